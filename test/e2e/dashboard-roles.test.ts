/**
 * The dashboard by role, in a real Chromium against a real hub process and real sidecars under
 * a real pm2: a viewer sees who is signed in, the fleet live, the activity of others live, and
 * no action at all; an operator restarts an agent from the page but is refused creating a task
 * (403, recorded in the activity panel).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitUntil } from '../../support/wait.ts'
import { startDemoFleet, type DemoFleet } from '../../support/demo-fleet.ts'
import type { HubProcess } from '../../support/hub-process.ts'
import { launchBrowser, type TestBrowser } from '../../support/browser.ts'

const FLEET = ['role-1', 'role-2']
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
const visibleButtons = (scope: string) => b.page.locator(`${scope} button:visible`).count()

async function signIn(role: 'viewer' | 'operator', name: string): Promise<string> {
  const minted = await hub.api('POST', '/api/admin/tokens', { role, name, ttl_s: 600 })
  expect(minted.status).toBe(201)
  await b.page.goto(hub.url + '/')
  await b.page.getByLabel('Admin token').fill(minted.body.token)
  await b.page.getByRole('button', { name: 'Sign in' }).click()
  await waitUntil(async () => expect(await b.page.locator('#whoami').innerText()).toBe(`${name} · ${role}`))
  for (const id of FLEET) await waitUntil(async () => expect(await row(id).isVisible()).toBe(true))
  return minted.body.token
}

describe(`the dashboard by role (${process.env.AGENTCOM_TEST_RUNTIME ?? 'node'} hub)`, () => {
  it('a viewer sees the fleet live, who is signed in, the activity, and no action', async () => {
    await signIn('viewer', 'wall-screen')
    await waitUntil(async () => expect(await b.page.getByRole('status').filter({ hasText: 'Live' }).isVisible()).toBe(true))
    expect(await visibleButtons('#agents-body')).toBe(0)
    expect(await b.page.getByRole('button', { name: 'Rolling restart' }).isVisible()).toBe(false)
    expect(await b.page.locator('#healing-toggle').isVisible()).toBe(false)
    // Someone else drains an agent: the viewer's page shows it, and who did it, without reload.
    expect((await hub.api('POST', '/api/admin/agents/role-2/drain')).status).toBe(200)
    await waitUntil(async () => expect(await row('role-2').locator('td.status').innerText()).toContain('drained'))
    expect(await visibleButtons('#agents-body')).toBe(0)
    const first = b.page.locator('#activity-body tr').first()
    await waitUntil(async () => expect(await first.innerText()).toMatch(/admin \(admin\)\s+agent\.drain\s+role-2\s+200/))
    expect((await hub.api('POST', '/api/admin/agents/role-2/resume')).status).toBe(200)
    await waitUntil(async () => expect(await row('role-2').locator('td.status').innerText()).not.toContain('drained'))
    await b.page.getByRole('button', { name: 'Sign out' }).click()
    await waitUntil(async () => expect(await b.page.getByLabel('Admin token').isVisible()).toBe(true))
  })

  it('an operator restarts an agent from the page, and is refused creating a task', async () => {
    const token = await signIn('operator', 'on-call')
    expect(await b.page.getByRole('button', { name: 'Rolling restart' }).isVisible()).toBe(true)
    await row('role-1').getByRole('button', { name: 'Restart role-1' }).click()
    await b.page.getByRole('button', { name: 'Confirm' }).click()
    await waitUntil(async () => expect(await b.page.getByRole('status').filter({ hasText: 'Restart commanded for role-1' }).isVisible()).toBe(true))
    await waitUntil(async () => expect((await row('role-1').locator('th, td').allInnerTexts()).slice(1, 3)).toEqual(['idle', '1']), { timeoutMs: 40_000 })
    // No control creates a task; the API refuses the operator's token for it, and says so.
    const refused = await b.page.evaluate(`fetch('/api/admin/tasks', { method: 'POST', headers: { authorization: 'Bearer ${token}' },
      body: JSON.stringify({ input: { n: 1 } }) }).then(async (r) => [r.status, await r.json()])`)
    expect(refused).toEqual([403, { error: 'forbidden', required_role: 'admin' }])
    await waitUntil(async () => expect(await b.page.locator('#activity-body tr').first().innerText()).toMatch(/on-call \(operator\)\s+task\.create\s+—\s+403/))
    expect(await b.page.locator('#activity-body').innerText()).toMatch(/on-call \(operator\)\s+agent\.restart\s+role-1\s+200/)
    expect((await hub.api('GET', '/api/admin/audit?actor=on-call')).body.records.map((r: any) => r.action)).toEqual(['task.create', 'agent.restart'])
  })
})
