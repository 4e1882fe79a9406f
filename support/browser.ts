/**
 * A real Chromium for tests: playwright-core driving the browser that the npm package
 * @sparticuz/chromium ships (no download, runs as root headless). Every request a page makes is
 * recorded, so a test can prove nothing left the hub's origin.
 */
import chromium from '@sparticuz/chromium'
import { chromium as playwright, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { mkdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface TestBrowser {
  browser: Browser
  context: BrowserContext
  page: Page
  /** Every URL the page requested (documents, scripts, fetches, even ones that failed). */
  requests: string[]
  /** Messages from the page's console at level error, and uncaught page errors. */
  pageErrors: string[]
  close(): Promise<void>
}

const LOCK = join(tmpdir(), 'agentcom-chromium.lock')
const LOCK_STALE_MS = 120_000

/**
 * The browser's path. @sparticuz/chromium unpacks it into the temp dir on first use and treats
 * the file's mere existence as done, so two test workers unpacking at once could launch a
 * half-written binary: the first unpack is serialized by a lock directory (mkdir is atomic).
 */
async function chromiumPath(): Promise<string> {
  const deadline = Date.now() + LOCK_STALE_MS
  for (;;) {
    try {
      await mkdir(LOCK)
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const age = Date.now() - (await stat(LOCK).catch(() => ({ mtimeMs: Date.now() }))).mtimeMs
      if (age > LOCK_STALE_MS) await rm(LOCK, { recursive: true, force: true })
      if (Date.now() > deadline) throw new Error(`${LOCK} is still held after ${LOCK_STALE_MS} ms`)
      // The holder is unpacking (about a second); there is no event to await across processes.
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }
  try {
    return await chromium.executablePath()
  } finally {
    await rm(LOCK, { recursive: true, force: true })
  }
}

export async function launchBrowser(options: { viewport?: { width: number; height: number }; colorScheme?: 'light' | 'dark' } = {}): Promise<TestBrowser> {
  const browser = await playwright.launch({ executablePath: await chromiumPath(), args: chromium.args, headless: true })
  try {
    const context = await browser.newContext({ viewport: options.viewport ?? { width: 1280, height: 800 }, colorScheme: options.colorScheme ?? 'light' })
    const requests: string[] = []
    const pageErrors: string[] = []
    // Context-wide, so requests from workers and popups count too.
    context.on('request', (req) => requests.push(req.url()))
    const page = await context.newPage()
    page.on('pageerror', (err) => pageErrors.push(`pageerror: ${err.message}`))
    page.on('console', (msg) => {
      if (msg.type() === 'error') pageErrors.push(`console: ${msg.text()}`)
    })
    return { browser, context, page, requests, pageErrors, close: () => browser.close() }
  } catch (err) {
    await browser.close()
    throw err
  }
}

/** The requests that went anywhere but `origin` (data: URLs never leave the page). */
export function foreignRequests(requests: readonly string[], origin: string): string[] {
  return requests.filter((url) => !url.startsWith('data:') && new URL(url).origin !== origin)
}

/**
 * Saves the page as it looks now, e.g. to `docs/dashboard.png` for the README once the demo
 * fleet shows. Waits for two animation frames so the last batched render is painted.
 */
export async function saveScreenshot(page: Page, path: string): Promise<void> {
  // A string: this file is type-checked without the DOM library.
  await page.evaluate('new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))')
  await page.screenshot({ path, fullPage: true, animations: 'disabled' })
}
