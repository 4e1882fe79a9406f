/**
 * The dashboard's charts in a real Chromium against a real hub process (Node or Deno, per
 * project), with an agent on a real WebSocket whose reports the test controls: its memory
 * sparkline gains points live as it reports more memory, and the fleet chart shows its restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { waitUntil } from '../../support/wait.ts'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { identifiedSocket, type TestSocket } from '../../support/ws-client.ts'
import { foreignRequests, launchBrowser, type TestBrowser } from '../../support/browser.ts'

let hub: HubProcess
let b: TestBrowser
let socket: TestSocket

const pm2Info = (restart_count: number, pid: number) => ({
  name: 'agentcom-chart', pm_id: 1, pid, status: 'online', uptime_ms: 1000, restart_count, memory_bytes: 1e7,
})
const stats = (rss: number) => ({ type: 'stats', rss_bytes: rss, heap_used_bytes: rss / 2, event_loop_delay_ms: 0, uptime_ms: 1000 })

beforeAll(async () => {
  hub = await startHubProcess()
  b = await launchBrowser()
}, 120_000)

afterAll(async () => {
  socket?.close()
  await b?.close()
  await hub?.stop()
})

const spark = () => b.page.locator('tr[data-agent="chart-1"] svg.spark')
const sparkPoints = async () => Number(await spark().getAttribute('data-points'))
const statusChart = () => b.page.locator('#chart-statuses')

describe(`dashboard charts (${process.env.AGENTCOM_TEST_RUNTIME ?? 'node'} hub)`, () => {
  it('draws an agent\'s memory as a sparkline that gains points live as the agent reports', async () => {
    socket = await identifiedSocket(hub.wsUrl, 'chart-1', await hub.agentToken('chart-1'), { pm2_info: pm2Info(0, 10) })
    socket.send(stats(20e6))
    await b.page.goto(hub.url + '/')
    await b.page.getByLabel('Admin token').fill(await hub.adminToken())
    await b.page.getByRole('button', { name: 'Sign in' }).click()
    await waitUntil(async () => expect(await b.page.getByRole('status').filter({ hasText: 'Live' }).isVisible()).toBe(true))
    await waitUntil(async () => expect(await sparkPoints()).toBe(1))
    // Stats reports carry their own time: each new one is a new point, drawn without a reload.
    // Each sent once the one before is drawn, so each has a later time (`at`, the hub's).
    for (const [i, rss] of [30e6, 40e6, 50e6].entries()) {
      socket.send(stats(rss))
      await waitUntil(async () => expect(await sparkPoints()).toBe(i + 2))
    }
    const line = spark().locator('polyline')
    expect(await line.count()).toBe(1)
    const ys = (await line.getAttribute('points'))!.split(' ').map((p) => Number(p.split(',')[1]))
    // Memory grew with every report: each point higher on the chart (smaller y) than the one before.
    expect(ys).toEqual([...ys].sort((x, y) => y - x))
    expect(new Set(ys).size).toBe(4)
    expect(await spark().getAttribute('aria-label')).toMatch(/^Memory over the last 4 reports, 19 MiB to 48 MiB$/)
  })

  it('shows the agent\'s restart in the fleet chart, and its task in the tasks chart', async () => {
    await waitUntil(async () => expect(await statusChart().getAttribute('aria-label')).toMatch(/Now: 1 idle, 0 working, 0 restarting, 0 offline\./))
    const res = await hub.api('POST', '/api/admin/agents/chart-1/restart', { reason: 'chart test' })
    expect(res.status).toBe(200)
    await socket.next('restart_sidecar')
    socket.send({ type: 'agent_restarting', reason: 'chart test', restart_id: res.body.restart_id })
    socket.ws.close(1012, 'restarting')
    await socket.closed
    await waitUntil(async () => expect(await statusChart().getAttribute('aria-label')).toMatch(/Now: 0 idle, 0 working, 1 restarting, 0 offline\./))
    const restarting = statusChart().locator('polyline[data-status="restarting"]')
    expect(await restarting.count()).toBe(1)
    socket = await identifiedSocket(hub.wsUrl, 'chart-1', await hub.agentToken('chart-1'), { pm2_info: pm2Info(1, 11) })
    await waitUntil(async () => expect((await hub.api('GET', '/api/admin/agents/chart-1')).body.restart?.state).toBe('completed'))
    // The minute keeps its high: the restart stays on the chart after the agent is back.
    await waitUntil(async () => expect(await statusChart().getAttribute('aria-label')).toMatch(/Now: 1 idle, .*Most in one minute: 1 idle, 0 working, 1 restarting/))

    const created = await hub.api('POST', '/api/admin/tasks', { input: {}, agent_id: 'chart-1' })
    const assign = await socket.next('task_assign')
    socket.send({ type: 'task_accepted', task_id: assign.task_id })
    socket.send({ type: 'task_complete', task_id: created.body.task_id, result: 1 })
    await socket.next('task_ack')
    await waitUntil(async () => expect(await b.page.locator('#chart-finished').getAttribute('aria-label')).toMatch(/: 1 finished, 0 failed$/))
    expect(await b.page.locator('#chart-finished rect.bar-completed').count()).toBe(1)
  })

  it('started from the hub\'s history after a reload, and asked nothing of another origin', async () => {
    await b.page.reload()
    await waitUntil(async () => expect(await sparkPoints()).toBeGreaterThanOrEqual(4))
    await waitUntil(async () => expect(await statusChart().getAttribute('aria-label')).toMatch(/Most in one minute: .*1 restarting/))
    await waitUntil(async () => expect(await b.page.locator('#chart-finished').getAttribute('aria-label')).toMatch(/: 1 finished/))
    expect(b.requests).toContain(`${hub.url}/api/admin/metrics/history`)
    expect(foreignRequests(b.requests, new URL(hub.url).origin)).toEqual([])
    expect(b.pageErrors).toEqual([])
  })
})
