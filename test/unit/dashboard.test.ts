import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { isNotModified } from '../../hub/dashboard/asset.ts'
import { DASHBOARD_CSP, dashboardRoutes } from '../../hub/dashboard/dashboard-routes.ts'
import { bundleDashboard } from '../../scripts/build-dashboard.ts'

const app = dashboardRoutes()
const ASSETS = [
  ['/', 'text/html; charset=utf-8'],
  ['/dashboard.js', 'text/javascript; charset=utf-8'],
  ['/dashboard.css', 'text/css; charset=utf-8'],
] as const

describe('dashboard routes', () => {
  it.each(ASSETS)('GET %s answers 200 %s under the strict policy, no auth needed', async (path, type) => {
    const res = await app.request(path)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe(type)
    expect(res.headers.get('content-security-policy')).toBe(DASHBOARD_CSP)
    expect(res.headers.get('x-content-type-options')).toBe('nosniff')
    expect(res.headers.get('set-cookie')).toBeNull()
  })

  it('the policy allows only this origin: no inline script, nothing from elsewhere', () => {
    expect(DASHBOARD_CSP).toContain("default-src 'none'")
    expect(DASHBOARD_CSP).toContain("script-src 'self'")
    expect(DASHBOARD_CSP).toContain("connect-src 'self'")
    expect(DASHBOARD_CSP).not.toMatch(/unsafe|https?:|\*/)
  })

  it('the page names no other origin and has no inline script or style', async () => {
    for (const [path] of ASSETS) {
      const body = await (await app.request(path)).text()
      expect(body, path).not.toMatch(/https?:\/\/|\/\/[a-z0-9.-]+\.[a-z]{2,}\//i)
    }
    const html = await (await app.request('/')).text()
    expect(html.match(/<script\b[^>]*>/g)).toEqual(['<script src="/dashboard.js" defer>'])
    expect(html).not.toMatch(/<style\b|\sstyle=|\son[a-z]+=/i)
    expect(html).toContain('<label for="token">Admin token</label>')
    expect(html).toContain('<input id="token"')
  })

  it('the script is valid JavaScript and never stores the token anywhere but sessionStorage', async () => {
    const js = await (await app.request('/dashboard.js')).text()
    expect(() => new Function(js)).not.toThrow()
    expect(js).not.toMatch(/localStorage|document\.cookie|indexedDB/)
    expect(js).not.toMatch(/credentials: ["'](include|same-origin)["']/)
    const omitted = [...js.matchAll(/credentials: ["']omit["']/g)].length
    expect(omitted).toBeGreaterThan(0)
    expect([...js.matchAll(/fetch\(/g)].length).toBe(omitted)
  })

  it('serves the script bundled from hub/dashboard/browser/ as the sources stand now', async () => {
    const js = await (await app.request('/dashboard.js')).text()
    expect(js).toBe(await bundleDashboard())
    expect(js).toContain('agentcom.admin_token')
  })

  it.each(ASSETS)('GET %s carries a strong ETag, and a matching If-None-Match gets 304 with no body', async (path) => {
    const first = await app.request(path)
    const etag = first.headers.get('etag')
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/)
    expect(first.headers.get('cache-control')).toBe('no-cache')
    const again = await app.request(path, { headers: { 'if-none-match': `"other", W/${etag}` } })
    expect(again.status).toBe(304)
    expect(await again.text()).toBe('')
    expect(again.headers.get('etag')).toBe(etag)
    expect(again.headers.get('cache-control')).toBe('no-cache')
    expect(again.headers.get('content-security-policy')).toBe(DASHBOARD_CSP)
    const stale = await app.request(path, { headers: { 'if-none-match': '"other"' } })
    expect(stale.status).toBe(200)
    expect(await stale.text()).toBe(await first.text())
  })

  it('reads If-None-Match as a list of tags, weak ones by value', () => {
    expect(isNotModified(undefined, '"a"')).toBe(false)
    expect(isNotModified('*', '"a"')).toBe(true)
    expect(isNotModified('"b" , W/"a"', '"a"')).toBe(true)
    expect(isNotModified('"ab"', '"a"')).toBe(false)
  })

  it('every dashboard source file stays under 350 lines, the browser modules included', async () => {
    const dir = join(import.meta.dirname, '..', '..', 'hub', 'dashboard')
    const names = (await readdir(dir, { recursive: true })).filter((name) => name.endsWith('.ts'))
    expect(names).toContain(join('browser', 'main.ts'))
    for (const name of names) {
      const lines = (await readFile(join(dir, name), 'utf8')).split('\n').length
      expect(lines, name).toBeLessThan(350)
    }
  })
})
