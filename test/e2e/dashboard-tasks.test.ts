/**
 * The dashboard's task control in a real Chromium against a real hub and a real sidecar under
 * a real pm2: labels in the agents table, the task list and its status filter, a task view with
 * the task's output live, and Cancel behind a confirmation.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { createPm2Sandbox, type Pm2Sandbox } from '../../support/pm2.ts'
import { foreignRequests, launchBrowser, type TestBrowser } from '../../support/browser.ts'
import { waitFor, waitUntil } from '../../support/wait.ts'

/** Prints `tick N` every 200 ms, `input.ticks` times. */
const TASK = `
let text = ''
for await (const chunk of process.stdin) text += chunk
const { input } = JSON.parse(text)
for (let i = 1; i <= input.ticks; i++) {
  process.stdout.write('tick ' + i + '\\n')
  await new Promise((resolve) => setTimeout(resolve, 200))
}
`

let hub: HubProcess
let pm2: Pm2Sandbox
let b: TestBrowser

beforeAll(async () => {
  hub = await startHubProcess()
  pm2 = await createPm2Sandbox()
  const script = join(pm2.home, 'ticks.mjs')
  await writeFile(script, TASK)
  await pm2.startSidecar('dt-1', {
    AGENTCOM_HUB_URL: hub.wsUrl, AGENTCOM_TOKEN: await hub.agentToken('dt-1'),
    AGENTCOM_TASK_COMMAND: `"${process.execPath}" "${script}"`, AGENTCOM_LABELS: 'gpu,zone=eu', AGENTCOM_CANCEL_GRACE_MS: '1000',
  })
  await waitFor(() => hub.api('GET', '/api/admin/agents/dt-1'), (r) => r.body.status === 'idle', { what: 'dt-1 idle' })
  b = await launchBrowser()
}, 120_000)

afterAll(async () => {
  await b?.close()
  await pm2?.kill()
  await hub?.stop()
})

const taskRows = () => b.page.locator('#tasks-body tr')

describe(`dashboard task control (${process.env.AGENTCOM_TEST_RUNTIME ?? 'node'} hub)`, () => {
  it('signs in and shows the agent with its labels', async () => {
    await b.page.goto(hub.url + '/')
    await b.page.getByLabel('Admin token').fill(await hub.adminToken())
    await b.page.getByRole('button', { name: 'Sign in' }).click()
    const row = b.page.locator('tr[data-agent="dt-1"]')
    await waitUntil(async () => expect(await row.isVisible()).toBe(true))
    expect(await row.locator('th .t-label').allInnerTexts()).toEqual(['gpu', 'zone=eu'])
  })

  it('opens a running task, shows its output live, and cancels it after Confirm', async () => {
    const done = (await hub.api('POST', '/api/admin/tasks', { input: { ticks: 1 } })).body
    await waitFor(() => hub.api('GET', `/api/admin/tasks/${done.task_id}`), (r) => r.body.status === 'completed', { what: 'first task done' })
    const t = (await hub.api('POST', '/api/admin/tasks', { input: { ticks: 100 } })).body
    const open = b.page.getByRole('button', { name: `Open task ${t.task_id}` })
    await waitUntil(async () => expect(await open.isVisible()).toBe(true))
    await open.click()
    const output = b.page.getByLabel('Task output')
    await waitUntil(async () => expect(await output.innerText()).toContain('tick 3'), { timeoutMs: 15_000 })
    expect((await output.innerText()).startsWith('tick 1\ntick 2\ntick 3')).toBe(true)
    await b.page.getByRole('button', { name: 'Cancel task' }).click()
    // The confirmation first: Escape keeps the task running.
    await waitUntil(async () => expect(await b.page.getByRole('button', { name: 'Confirm' }).isVisible()).toBe(true))
    await b.page.keyboard.press('Escape')
    expect((await hub.api('GET', `/api/admin/tasks/${t.task_id}`)).body.status).toBe('working')
    await b.page.getByRole('button', { name: 'Cancel task' }).click()
    await b.page.getByRole('button', { name: 'Confirm' }).click()
    await waitUntil(async () => expect((await hub.api('GET', `/api/admin/tasks/${t.task_id}`)).body.status).toBe('cancelled'))
    await waitUntil(async () => expect(await b.page.locator('#task-output-state').innerText()).toBe('Ended: cancelled'))
    expect(await b.page.getByRole('button', { name: 'Cancel task' }).isVisible()).toBe(false)
    await b.page.getByRole('button', { name: 'Close' }).click()
  })

  it('filters the task list by status', async () => {
    await waitUntil(async () => expect(await taskRows().count()).toBeGreaterThanOrEqual(2))
    await b.page.getByLabel('Show tasks by status').selectOption('cancelled')
    await waitUntil(async () => expect(await taskRows().count()).toBe(1))
    expect(await taskRows().locator('.pill').innerText()).toBe('cancelled')
    await b.page.getByLabel('Show tasks by status').selectOption('completed')
    await waitUntil(async () => expect(await taskRows().locator('.pill').allInnerTexts()).toEqual(['completed']))
    await b.page.getByLabel('Show tasks by status').selectOption('')
    await waitUntil(async () => expect(await taskRows().count()).toBe(2))
  })

  it('made every request to the hub alone, with no error on the page', () => {
    expect(b.requests.some((url) => url.includes('/output?follow=1'))).toBe(true)
    expect(foreignRequests(b.requests, new URL(hub.url).origin)).toEqual([])
    expect(b.pageErrors.filter((e) => !/status of (401|404)/.test(e))).toEqual([])
  })
})
