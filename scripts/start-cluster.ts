/**
 * `npm run start:cluster`: cluster mode on one machine, to try failover. An embedded
 * PostgreSQL, two hubs sharing it (hub-a on Node at PORT, hub-b on Deno at PORT+1) and a demo
 * fleet of two sidecars that know both hubs, under the project's own pm2 (pm2-runtime, in the
 * foreground). Prints both hub URLs, an admin token and curl lines. Ctrl-C stops everything,
 * the database too.
 */
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { resolve, join } from 'node:path'
import { signAdminToken, signAgentToken } from '../hub/auth/auth.ts'
import { resolveHubConfig } from '../hub/config/config.ts'
import { ensureSecret } from '../hub/auth/secret.ts'
import { nodeSecretFiles } from '../hub/node/platform.ts'
import { startEmbeddedPostgres } from './embedded-postgres.ts'
import { waitForHealth } from './wait-for-health.ts'
import { stopStrayPm2 } from './stray-pm2.ts'
import { exitIfPortsInUse } from './ports-in-use.ts'

const DEMO_AGENTS = ['demo-1', 'demo-2']

const config = resolveHubConfig(process.env)
const ports = [config.port, config.port + 1]
// Before anything starts: hub-b could only fail to bind, and a hub already there would answer for ours.
await exitIfPortsInUse(config.host, ports, `the cluster's hubs listen on PORT and PORT+1; set PORT to another, e.g. PORT=${config.port + 2} npm run start:cluster`)
const dataDir = resolve(config.dataDir)
await mkdir(dataDir, { recursive: true })
// Both hubs read the same secret file, so a token from either is good on both.
const secret = await ensureSecret({ ...config, dataDir }, nodeSecretFiles)
const adminToken = await signAdminToken(secret)
// Each demo sidecar gets a file with its own agent token (mode 0600), never the secret.
const tokenDir = join(dataDir, 'tokens')
await mkdir(tokenDir, { recursive: true, mode: 0o700 })
const tokenFiles = await Promise.all(DEMO_AGENTS.map(async (id) => {
  const file = join(tokenDir, `${id}.token`)
  await writeFile(file, `${await signAgentToken(secret, id)}\n`, { mode: 0o600 })
  await chmod(file, 0o600) // a file left by an earlier run keeps its mode otherwise
  return file
}))

process.stdout.write('agentcom: starting an embedded PostgreSQL...\n')
// In the OS temp dir, not the data dir: run as root, the server drops to the `postgres` user,
// which cannot enter a data dir that `npm start` made 0700 (it holds the hub's secret).
const postgres = await startEmbeddedPostgres()

const require = createRequire(import.meta.url)
const pm2Runtime = join(require.resolve('pm2/package.json'), '..', 'bin', 'pm2-runtime')
const env: Record<string, string | undefined> = {
  ...process.env,
  PM2_HOME: join(dataDir, 'pm2-cluster'),
  AGENTCOM_DATA_DIR: dataDir,
  AGENTCOM_DATABASE_URL: postgres.url,
  HOST: config.host,
  AGENTCOM_CLUSTER_PORT_A: String(ports[0]),
  AGENTCOM_CLUSTER_PORT_B: String(ports[1]),
  AGENTCOM_DEMO_AGENTS: DEMO_AGENTS.join(','),
  ...Object.fromEntries(tokenFiles.map((file, i) => [`AGENTCOM_DEMO_TOKEN_FILE_${i}`, file])),
}
// The sidecars are told which pm2 app they are by pm2 itself, never by our own environment.
delete env.pm_id
delete env.name
delete env.PORT
delete env.AGENTCOM_HUB_ID

const child = spawn(process.execPath, [pm2Runtime, 'start', join(import.meta.dirname, 'cluster-fleet.config.cjs')], {
  env,
  stdio: ['ignore', 'inherit', 'inherit'],
})

let stopping = false
async function stopDatabase(code: number): Promise<never> {
  if (!stopping) {
    stopping = true
    await stopStrayPm2(env.PM2_HOME!)
    await postgres.stop().catch((err) => process.stderr.write(`agentcom: PostgreSQL did not stop cleanly: ${String(err)}\n`))
  }
  process.exit(code)
}
// Ctrl-C reaches pm2-runtime too (same process group); a signal sent to us alone is passed on.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => child.kill(signal))
}
child.on('exit', (code, signal) => void stopDatabase(code ?? (signal ? 1 : 0)))

const host = config.host === '0.0.0.0' ? '127.0.0.1' : config.host
const urls = ports.map((port) => `http://${host}:${port}`)
const healthy = await Promise.all(urls.map((url) => waitForHealth(url, 60_000, () => child.exitCode === null)))
if (healthy.every(Boolean)) {
  const auth = `-H "Authorization: Bearer ${adminToken}"`
  process.stdout.write(
    [
      '',
      `AgentCom cluster: hub-a (Node) ${urls[0]}   hub-b (Deno) ${urls[1]}`,
      `  PostgreSQL on port ${postgres.port}, pm2 home ${env.PM2_HOME}, demo agents ${DEMO_AGENTS.join(', ')}`,
      `Admin token:   ${adminToken}`,
      '',
      'List the agents from either hub (hub_id says which hub holds each one):',
      `  curl -s ${auth} ${urls[0]}/api/admin/agents`,
      'Restart an agent through the hub that does not hold it:',
      `  curl -s -X POST ${auth} ${urls[1]}/api/admin/agents/${DEMO_AGENTS[0]}/restart`,
      'Run a task, then try failover: stop one hub and watch its agents move to the other',
      `  curl -s -X POST ${auth} ${urls[0]}/api/admin/tasks -d '{"input":{"sleep_ms":5000}}'`,
      `  PM2_HOME=${env.PM2_HOME} npx pm2 stop agentcom-hub-a`,
      '',
      'Ctrl-C stops everything, PostgreSQL too.',
      '',
    ].join('\n') + '\n',
  )
} else {
  process.stderr.write(`agentcom: the hubs did not both answer on ${urls.join(' and ')} within 60 s; see the logs above\n`)
}
