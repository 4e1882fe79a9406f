/**
 * `node --import tsx scripts/dashboard-screenshot.ts [out.png]`: takes docs/dashboard.png, a
 * real screenshot of the dashboard over a demo fleet of real sidecars under a temporary pm2
 * (one agent drained, one running a task, one restarted, a rolling restart done). Needs the
 * dev dependencies (playwright-core, @sparticuz/chromium); stops everything it started.
 */
import { join } from 'node:path'
import { startDemoFleet } from '../support/demo-fleet.ts'
import { launchBrowser, saveScreenshot } from '../support/browser.ts'
import { waitFor } from '../support/wait.ts'

const out = process.argv[2] ?? join(import.meta.dirname, '..', 'docs', 'dashboard.png')
const FLEET = ['demo-1', 'demo-2', 'demo-3', 'demo-4', 'demo-5', 'demo-6']

// Stats every second, so each row's memory sparkline has points to draw by the time of the shot.
const fleet = await startDemoFleet(FLEET, {}, undefined, { AGENTCOM_STATS_INTERVAL_MS: '1000' })
const { hub } = fleet
const browser = await launchBrowser({ viewport: { width: 1280, height: 760 } })
try {
  const page = browser.page
  await page.goto(`${hub.url}/`)
  await page.getByLabel('Admin token').fill(await hub.adminToken())
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.locator('tr[data-agent="demo-6"]').waitFor()

  const rollout = (await hub.api('POST', '/api/admin/rollouts', { agent_ids: ['demo-1', 'demo-2'], reason: 'deploy' })).body
  await waitFor(async () => (await hub.api('GET', `/api/admin/rollouts/${rollout.rollout_id}`)).body.state, (s) => s !== 'running',
    { timeoutMs: 60_000, what: 'the rollout to end' })
  for (let i = 0; i < 3; i++) await hub.api('POST', '/api/admin/tasks', { input: { sleep_ms: 200 * i }, agent_id: 'demo-4' })
  await hub.api('POST', '/api/admin/tasks', { input: { sleep_ms: 120_000 }, agent_id: 'demo-3' })
  await hub.api('POST', '/api/admin/agents/demo-5/drain')
  await waitFor(async () => (await hub.api('GET', '/api/admin/agents/demo-3')).body.status, (s) => s === 'working', { what: 'demo-3 working' })
  await waitFor(async () => (await hub.api('GET', '/api/admin/agents/demo-4')).body.status, (s) => s === 'idle', { what: 'demo-4 done' })
  await page.getByText('Live', { exact: true }).waitFor()
  await waitFor(() => page.locator('svg.spark').evaluateAll((svgs) => svgs.map((s) => Number(s.getAttribute('data-points')))),
    (points) => points.length === FLEET.length && points.every((n) => n >= 8), { timeoutMs: 30_000, what: 'sparklines with 8 points' })
  await saveScreenshot(page, out)
  process.stdout.write(`saved ${out}\n`)
} finally {
  await browser.close()
  await fleet.stop()
}
