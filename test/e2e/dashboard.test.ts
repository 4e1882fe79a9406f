/**
 * The dashboard in a real Chromium against a real hub process (Node or Deno, per project):
 * the page loads with no token, signs in with a real admin token, shows the fleet, and runs
 * restart and drain/resume behind a confirmation, all without a request leaving the hub.
 * The agent is a real WebSocket client speaking the sidecar protocol, so the test can see the
 * restart command arrive.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { identifiedSocket, type TestSocket } from '../../support/ws-client.ts'
import { foreignRequests, launchBrowser, type TestBrowser } from '../../support/browser.ts'

let hub: HubProcess
let agent: TestSocket
let b: TestBrowser

const PM2_INFO = { name: 'agentcom-browser-1', pm_id: 0, pid: 4242, status: 'online', uptime_ms: 5000, restart_count: 0, memory_bytes: 52_428_800 }

beforeAll(async () => {
  hub = await startHubProcess()
  agent = await identifiedSocket(hub.wsUrl, 'browser-1', await hub.agentToken('browser-1'), { pm2_info: PM2_INFO })
  b = await launchBrowser()
})

afterAll(async () => {
  await b?.close()
  agent?.close()
  await hub?.stop()
})

const row = (id: string) => b.page.locator(`tr[data-agent="${id}"]`)
const agentsTable = () => b.page.getByRole('table', { name: 'Agents' })

describe(`dashboard in a real browser (${process.env.AGENTCOM_TEST_RUNTIME ?? 'node'} hub)`, () => {
  it('loads with no token and asks for one in a labelled field', async () => {
    const res = await b.page.goto(hub.url + '/')
    expect(res?.status()).toBe(200)
    expect(res?.headers()['content-security-policy']).toContain("default-src 'none'")
    await expect.poll(() => b.page.getByLabel('Admin token').isVisible()).toBe(true)
    expect(await b.page.getByRole('button', { name: 'Sign in' }).isVisible()).toBe(true)
    expect(await agentsTable().getByRole('columnheader', { name: 'Agent' }).isVisible()).toBe(false)
  })

  it('sends a refused token back to sign-in with a message, and keeps nothing', async () => {
    await b.page.getByLabel('Admin token').fill(await hub.agentToken('browser-1'))
    await b.page.getByRole('button', { name: 'Sign in' }).click()
    await expect.poll(() => b.page.getByRole('alert').filter({ hasText: 'refused this token' }).isVisible()).toBe(true)
    expect(await b.page.getByLabel('Admin token').isVisible()).toBe(true)
    expect(await b.page.evaluate('sessionStorage.length')).toBe(0)
  })

  it('signs in with an admin token and shows the agents table with the connected agent', async () => {
    const token = await hub.adminToken()
    await b.page.getByLabel('Admin token').fill(token)
    await b.page.getByRole('button', { name: 'Sign in' }).click()
    for (const name of ['Agent', 'Status', 'Restarts', 'Memory', 'Task']) {
      await expect.poll(() => agentsTable().getByRole('columnheader', { name, exact: true }).isVisible()).toBe(true)
    }
    await expect.poll(() => row('browser-1').isVisible()).toBe(true)
    const cells = await row('browser-1').locator('th, td').allInnerTexts()
    expect(cells.slice(0, 5)).toEqual(['browser-1', 'idle', '0', '50 MiB', '—'])
    expect(await b.page.getByRole('button', { name: '1 agent', exact: true }).isVisible()).toBe(true)
    expect(await b.page.evaluate("sessionStorage.getItem('agentcom.admin_token')")).toBe(token)
    expect(await b.context.cookies()).toEqual([])
  })

  it('asks before draining: Escape cancels, Confirm drains, and Resume needs no confirmation', async () => {
    await row('browser-1').getByRole('button', { name: 'Drain browser-1' }).click()
    const confirm = b.page.getByRole('button', { name: 'Confirm' })
    await expect.poll(() => confirm.isVisible()).toBe(true)
    expect(await b.page.evaluate('document.activeElement.id')).toBe('confirm-ok')
    await b.page.keyboard.press('Escape')
    await expect.poll(() => confirm.isVisible()).toBe(false)
    expect((await hub.api('GET', '/api/admin/agents/browser-1')).body.drained).toBe(false)

    await row('browser-1').getByRole('button', { name: 'Drain browser-1' }).click()
    await confirm.click()
    await expect.poll(() => row('browser-1').getByRole('button', { name: 'Resume browser-1' }).isVisible()).toBe(true)
    expect((await hub.api('GET', '/api/admin/agents/browser-1')).body.drained).toBe(true)
    expect(await row('browser-1').locator('td.status').innerText()).toContain('drained')

    await row('browser-1').getByRole('button', { name: 'Resume browser-1' }).click()
    await expect.poll(() => row('browser-1').getByRole('button', { name: 'Drain browser-1' }).isVisible()).toBe(true)
    expect((await hub.api('GET', '/api/admin/agents/browser-1')).body.drained).toBe(false)
  })

  it('restarts an agent after Confirm, pressed from the keyboard', async () => {
    await row('browser-1').getByRole('button', { name: 'Restart browser-1' }).click()
    await expect.poll(() => b.page.getByRole('button', { name: 'Confirm' }).isVisible()).toBe(true)
    await b.page.keyboard.press('Enter')
    const command = await agent.next('restart_sidecar')
    expect(command).toMatchObject({ type: 'restart_sidecar', reason: 'dashboard' })
    await expect.poll(() => b.page.getByRole('status').filter({ hasText: 'Restart commanded for browser-1' }).isVisible()).toBe(true)
  })

  it('made every request to the hub alone, with no error on the page', async () => {
    expect(b.requests.length).toBeGreaterThan(3)
    expect(b.requests).toContain(`${hub.url}/dashboard.js`)
    expect(foreignRequests(b.requests, new URL(hub.url).origin)).toEqual([])
    expect(b.pageErrors.filter((e) => !/status of (401|404)/.test(e))).toEqual([])
  })

  it('signs out: the token is gone and the form is back', async () => {
    await b.page.getByRole('button', { name: 'Sign out' }).click()
    await expect.poll(() => b.page.getByLabel('Admin token').isVisible()).toBe(true)
    expect(await b.page.evaluate("sessionStorage.getItem('agentcom.admin_token')")).toBeNull()
    expect(await agentsTable().getByRole('columnheader', { name: 'Agent' }).isVisible()).toBe(false)
  })
})
