/**
 * `npm run test:prometheus`: a real Prometheus (Debian's `prometheus` package, not installed by
 * npm and not run by `npm test`) scrapes a real hub with the scrape config and the alert rules of
 * docs/metrics.md, taken from that file as written, while an agent on a real WebSocket runs a
 * task and restarts. Prints each check and exits 0 only if all hold.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RUNTIME, startHubProcess } from '../support/hub-process.ts'
import { identifiedSocket } from '../support/ws-client.ts'
import { waitFor } from '../support/wait.ts'
import { freePort } from '../support/free-port.ts'

const ROOT = join(import.meta.dirname, '..')
const PROMETHEUS = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus'
const PROMTOOL = process.env.PROMTOOL_BIN ?? '/usr/bin/promtool'

/** The YAML block of docs/metrics.md whose first line is `# <name>`. */
async function docsBlock(name: string): Promise<string> {
  const doc = await readFile(join(ROOT, 'docs/metrics.md'), 'utf8')
  const block = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.startsWith(`# ${name}`))
  if (!block) throw new Error(`docs/metrics.md has no yaml block starting with "# ${name}"`)
  return block
}


const results: Array<{ check: string; ok: boolean; detail: unknown }> = []
function record(check: string, ok: boolean, detail: unknown): void {
  results.push({ check, ok, detail })
  process.stdout.write(`${JSON.stringify({ check, ok, detail })}\n`)
}

const dir = await mkdtemp(join(tmpdir(), 'agentcom-prometheus-'))
// The hub on Node, or on Deno with AGENTCOM_TEST_RUNTIME=deno.
const hub = await startHubProcess({ AGENTCOM_RESTART_TIMEOUT_S: '10' }, RUNTIME)
let prometheus: ReturnType<typeof spawn> | null = null
try {
  const version = spawnSync(PROMETHEUS, ['--version'], { encoding: 'utf8' })
  if (version.status !== 0) throw new Error(`${PROMETHEUS} not found: apt-get install -y prometheus (as root)`)
  record('prometheus version', true, version.stdout.split('\n')[0])

  const target = new URL(hub.url).host
  await writeFile(join(dir, 'agentcom.token'), await hub.adminToken(), { mode: 0o600 })
  const scrape = (await docsBlock('prometheus.yml'))
    .replace('/etc/prometheus/agentcom.token', join(dir, 'agentcom.token'))
    .replace("'127.0.0.1:8787'", `'${target}'`)
    .replace('scrape_interval: 15s', 'scrape_interval: 1s')
  await writeFile(join(dir, 'rules.yml'), await docsBlock('agentcom-rules.yml'))
  await writeFile(join(dir, 'prometheus.yml'), `global:\n  evaluation_interval: 1s\nrule_files: ['${join(dir, 'rules.yml')}']\n${scrape}`)
  const checked = spawnSync(PROMTOOL, ['check', 'config', join(dir, 'prometheus.yml')], { encoding: 'utf8' })
  record('promtool check config (the scrape config and the three rules of docs/metrics.md)', checked.status === 0, (checked.stdout + checked.stderr).trim().split('\n'))

  const port = await freePort()
  const api = `http://127.0.0.1:${port}/api/v1`
  prometheus = spawn(PROMETHEUS, [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] })
  const query = async (q: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> => {
    const res = await fetch(`${api}/query?query=${encodeURIComponent(q)}`).catch(() => null)
    const body = res ? await res.json() as { status: string; data?: { result: any[] } } : null
    return body?.status === 'success' ? body.data!.result : []
  }
  const scalar = async (q: string) => Number((await query(q))[0]?.value[1] ?? NaN)

  const up = await waitFor(() => scalar('up{job="agentcom"}'), (v) => v === 1, { timeoutMs: 30_000, intervalMs: 250, what: 'the hub scraped' })
  const targets = await (await fetch(`${api}/targets`)).json() as { data: { activeTargets: Array<{ health: string; lastError: string }> } }
  record('Prometheus scrapes the hub with the bearer token', up === 1 && targets.data.activeTargets[0]?.health === 'up',
    { health: targets.data.activeTargets[0]?.health, lastError: targets.data.activeTargets[0]?.lastError })

  // Move the fleet: one task, one restart.
  const pm2 = (n: number) => ({ name: 'agentcom-p', pm_id: 1, pid: 100 + n, status: 'online', uptime_ms: 1, restart_count: n, memory_bytes: 1e7 })
  let socket = await identifiedSocket(hub.wsUrl, 'prom-1', await hub.agentToken('prom-1'), { pm2_info: pm2(0) })
  const task = await hub.api('POST', '/api/admin/tasks', { input: {}, agent_id: 'prom-1' })
  const assign = await socket.next('task_assign')
  socket.send({ type: 'task_accepted', task_id: assign.task_id })
  await new Promise((resolve) => setTimeout(resolve, 700)) // the task's run time, for the histogram
  socket.send({ type: 'task_complete', task_id: task.body.task_id, result: 'done' })
  await socket.next('task_ack')
  const restart = await hub.api('POST', '/api/admin/agents/prom-1/restart', { reason: 'prometheus check' })
  await socket.next('restart_sidecar')
  socket.send({ type: 'agent_restarting', reason: 'prometheus check', restart_id: restart.body.restart_id })
  socket.ws.close(1012)
  await socket.closed
  socket = await identifiedSocket(hub.wsUrl, 'prom-1', await hub.agentToken('prom-1'), { pm2_info: pm2(1) })

  const expectations: Array<[string, (v: number) => boolean]> = [
    ['agentcom_tasks_created_total', (v) => v === 1],
    ['agentcom_tasks_finished_total{status="completed"}', (v) => v === 1],
    ['agentcom_task_duration_seconds_count', (v) => v === 1],
    ['agentcom_task_duration_seconds_sum', (v) => v >= 0.7 && v < 5],
    ['agentcom_restarts_total{kind="admin",state="completed"}', (v) => v === 1],
    ['agentcom_agents{status="idle"}', (v) => v === 1],
    ['agentcom_connections', (v) => v === 1],
    [`agentcom_build_info{runtime=~"${RUNTIME} .*"}`, (v) => v === 1],
    ['process_resident_memory_bytes', (v) => v > 10_000_000],
    ['count({job="agentcom",__name__=~"agentcom_.*|process_.*"})', (v) => v > 40],
  ]
  for (const [q, accept] of expectations) {
    const v = await waitFor(() => scalar(q), accept, { timeoutMs: 15_000, intervalMs: 250, what: q }).catch(() => NaN)
    record(`query ${q}`, accept(v), v)
  }
  const rules = await (await fetch(`${api}/rules`)).json() as { data: { groups: Array<{ rules: Array<{ name: string; health: string }> }> } }
  const loaded = rules.data.groups.flatMap((g) => g.rules.map((r) => ({ name: r.name, health: r.health })))
  record('the three alert rules load and evaluate', loaded.length === 3 && loaded.every((r) => r.health === 'ok'), loaded)
  socket.close()
} catch (err) {
  record('run', false, String(err))
} finally {
  prometheus?.kill('SIGTERM')
  await hub.stop()
  await rm(dir, { recursive: true, force: true })
}
const failed = results.filter((r) => !r.ok)
process.stdout.write(`${failed.length === 0 ? 'all' : `${failed.length} of`} ${results.length} checks ${failed.length === 0 ? 'passed' : 'failed'}\n`)
process.exit(failed.length === 0 ? 0 : 1)
