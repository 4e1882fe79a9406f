/**
 * The dashboard in a real Chromium against a real hub process (Node or Deno, per project) and
 * a demo fleet of real sidecars under a real pm2: the page loads with no token, signs in with
 * a real admin token, shows the fleet, and runs drain/resume, a restart and a rolling restart
 * behind a confirmation, all seen live from the events stream, without a reload and without
 * a request leaving the hub.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitUntil } from '../../support/wait.ts'
import { startDemoFleet, type DemoFleet } from '../../support/demo-fleet.ts'
import type { HubProcess } from '../../support/hub-process.ts'
import { foreignRequests, launchBrowser, type TestBrowser } from '../../support/browser.ts'

const FLEET = ['dash-1', 'dash-2', 'dash-3']
let fleet: DemoFleet
let hub: HubProcess
let b: TestBrowser

beforeAll(async () => {
  fleet = await startDemoFleet(FLEET)
  hub = fleet.hub
  b = await launchBrowser()
}, 120_000)

afterAll(async () => {
  await b?.close()
  await fleet?.stop()
})

const row = (id: string) => b.page.locator(`tr[data-agent="${id}"]`)
const cells = async (id: string) => (await row(id).locator('th, td').allInnerTexts()).slice(0, 5)
const agentsTable = () => b.page.getByRole('table', { name: 'Agents' })
const agent = async (id: string) => (await hub.api('GET', `/api/admin/agents/${id}`)).body
/** Set once after sign-in: still there later means the page never reloaded. */
const NO_RELOAD = 'window.__agentcomNoReload'

describe(`dashboard in a real browser on a real fleet (${process.env.AGENTCOM_TEST_RUNTIME ?? 'node'} hub)`, () => {
  it('loads with no token and asks for one in a labelled field', async () => {
    const res = await b.page.goto(hub.url + '/')
    expect(res?.status()).toBe(200)
    expect(res?.headers()['content-security-policy']).toContain("default-src 'none'")
    await waitUntil(async () => expect(await b.page.getByLabel('Admin token').isVisible()).toBe(true))
    expect(await b.page.getByRole('button', { name: 'Sign in' }).isVisible()).toBe(true)
    expect(await agentsTable().getByRole('columnheader', { name: 'Agent' }).isVisible()).toBe(false)
  })

  it('sends a refused token back to sign-in with a message, and keeps nothing', async () => {
    await b.page.getByLabel('Admin token').fill(await hub.agentToken('dash-1'))
    await b.page.getByRole('button', { name: 'Sign in' }).click()
    await waitUntil(async () => expect(await b.page.getByRole('alert').filter({ hasText: 'refused this token' }).isVisible()).toBe(true))
    expect(await b.page.getByLabel('Admin token').isVisible()).toBe(true)
    expect(await b.page.evaluate('sessionStorage.length')).toBe(0)
  })

  it('signs in with an admin token and shows the fleet, live', async () => {
    const token = await hub.adminToken()
    await b.page.getByLabel('Admin token').fill(token)
    await b.page.getByRole('button', { name: 'Sign in' }).click()
    for (const name of ['Agent', 'Status', 'Restarts', 'Memory', 'Task']) {
      await waitUntil(async () => expect(await agentsTable().getByRole('columnheader', { name, exact: true }).isVisible()).toBe(true))
    }
    for (const id of FLEET) await waitUntil(async () => expect(await row(id).isVisible()).toBe(true))
    for (const id of FLEET) {
      const [name, status, restarts, memory, task] = await cells(id)
      expect([name, status, restarts, task]).toEqual([id, 'idle', '0', '—'])
      expect(memory).toMatch(/^\d+(\.\d)? MiB$/)
    }
    expect(await b.page.getByRole('button', { name: '3 agents', exact: true }).isVisible()).toBe(true)
    await waitUntil(async () => expect(await b.page.getByRole('status').filter({ hasText: 'Live' }).isVisible()).toBe(true))
    expect(await b.page.evaluate("sessionStorage.getItem('agentcom.admin_token')")).toBe(token)
    expect(await b.context.cookies()).toEqual([])
    await b.page.evaluate(`${NO_RELOAD} = true`)
  })

  it('asks before draining: Escape cancels, Confirm drains, and Resume needs no confirmation', async () => {
    await row('dash-2').getByRole('button', { name: 'Drain dash-2' }).click()
    const confirm = b.page.getByRole('button', { name: 'Confirm' })
    await waitUntil(async () => expect(await confirm.isVisible()).toBe(true))
    expect(await b.page.evaluate('document.activeElement.id')).toBe('confirm-ok')
    await b.page.keyboard.press('Escape')
    await waitUntil(async () => expect(await confirm.isVisible()).toBe(false))
    expect((await agent('dash-2')).drained).toBe(false)

    await row('dash-2').getByRole('button', { name: 'Drain dash-2' }).click()
    await confirm.click()
    await waitUntil(async () => expect(await row('dash-2').getByRole('button', { name: 'Resume dash-2' }).isVisible()).toBe(true))
    expect((await agent('dash-2')).drained).toBe(true)
    expect(await row('dash-2').locator('td.status').innerText()).toContain('drained')

    await row('dash-2').getByRole('button', { name: 'Resume dash-2' }).click()
    await waitUntil(async () => expect(await row('dash-2').getByRole('button', { name: 'Drain dash-2' }).isVisible()).toBe(true))
    expect((await agent('dash-2')).drained).toBe(false)
  })

  it('restarts an agent after Confirm, pressed from the keyboard, and Restarts goes 0 → 1 without reload', async () => {
    const before = await fleet.pm2.get('agentcom-dash-1')
    await row('dash-1').getByRole('button', { name: 'Restart dash-1' }).click()
    await waitUntil(async () => expect(await b.page.getByRole('button', { name: 'Confirm' }).isVisible()).toBe(true))
    await b.page.keyboard.press('Enter')
    await waitUntil(async () => expect(await b.page.getByRole('status').filter({ hasText: 'Restart commanded for dash-1' }).isVisible()).toBe(true))
    await waitUntil(async () => expect((await cells('dash-1')).slice(1, 3)).toEqual(['idle', '1']), { timeoutMs: 40_000 })
    expect(await b.page.evaluate(NO_RELOAD)).toBe(true)
    // The page showed what pm2 did.
    const after = await fleet.pm2.get('agentcom-dash-1')
    expect(after.restart_time).toBe(before.restart_time + 1)
    expect((await agent('dash-1')).restart).toMatchObject({ state: 'completed', reason: 'dashboard' })
  })

  it('runs a rolling restart from the page and shows its progress live', async () => {
    // Every text the progress line takes, recorded by the page as it changes.
    await b.page.evaluate(`(() => {
      window.__progress = []
      new MutationObserver(() => {
        for (const p of document.querySelectorAll('#rollouts .rollout-counts')) {
          if (window.__progress.at(-1) !== p.textContent) window.__progress.push(p.textContent)
        }
      }).observe(document.getElementById('rollouts'), { subtree: true, childList: true, characterData: true })
    })()`)
    await b.page.getByLabel('Max unavailable').fill('1')
    await b.page.getByRole('button', { name: 'Rolling restart' }).click()
    await waitUntil(async () => expect(await b.page.getByRole('button', { name: 'Confirm' }).isVisible()).toBe(true))
    expect(await b.page.locator('#confirm-title').innerText()).toBe('Restart 3 agents?')
    await b.page.getByRole('button', { name: 'Confirm' }).click()

    const rollout = b.page.locator('#rollouts li.rollout')
    await waitUntil(async () => expect(await rollout.count()).toBe(1))
    await waitUntil(async () => expect(await rollout.locator('.rollout-counts').innerText()).toMatch(/^3 \/ 3 done/), { timeoutMs: 90_000 })
    await waitUntil(async () => expect(await rollout.locator('.pill').innerText()).toBe('completed'))
    const progress = await b.page.evaluate('window.__progress') as string[]
    const done = progress.map((t) => Number(/^(\d+) \//.exec(t)?.[1]))
    // Live: each step was shown as it happened, in order, not only the end.
    expect(done).toEqual([...done].sort())
    expect(new Set(done)).toEqual(new Set([0, 1, 2, 3]))
    for (const [id, restarts] of [['dash-1', '2'], ['dash-2', '1'], ['dash-3', '1']]) {
      await waitUntil(async () => expect((await cells(id)).slice(1, 3)).toEqual(['idle', restarts]), { timeoutMs: 20_000 })
    }
    expect(await b.page.evaluate(NO_RELOAD)).toBe(true)
  })

  it('made every request to the hub alone, with no error on the page', async () => {
    expect(b.requests.length).toBeGreaterThan(3)
    expect(b.requests).toContain(`${hub.url}/dashboard.js`)
    expect(b.requests).toContain(`${hub.url}/api/admin/events`)
    expect(b.requests).toContain(`${hub.url}/api/admin/agents?limit=1000`)
    expect(foreignRequests(b.requests, new URL(hub.url).origin)).toEqual([])
    expect(b.pageErrors.filter((e) => !/status of (401|404)/.test(e))).toEqual([])
  })

  it('signs out: the token is gone and the form is back', async () => {
    await b.page.getByRole('button', { name: 'Sign out' }).click()
    await waitUntil(async () => expect(await b.page.getByLabel('Admin token').isVisible()).toBe(true))
    expect(await b.page.evaluate("sessionStorage.getItem('agentcom.admin_token')")).toBeNull()
    expect(await agentsTable().getByRole('columnheader', { name: 'Agent' }).isVisible()).toBe(false)
  })
})
