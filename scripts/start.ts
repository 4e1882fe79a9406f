/**
 * `npm start`: the hub and a demo fleet of two sidecars under the project's own pm2
 * (pm2-runtime, in the foreground, PM2_HOME under the data dir). Prints the hub URL, the
 * dashboard's, an admin token and curl lines to paste. Ctrl-C stops everything.
 */
import { execFileSync, spawn } from 'node:child_process'
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { createRequire } from 'node:module'
import { resolve, join } from 'node:path'
import { signAdminToken, signAgentToken } from '../hub/auth/auth.ts'
import { resolveHubConfig } from '../hub/config/config.ts'
import { ensureSecret } from '../hub/auth/secret.ts'
import { nodeSecretFiles } from '../hub/node/platform.ts'
import { SECOND } from '../shared/time.ts'
import { waitForHealth } from './wait-for-health.ts'
import { stopStrayPm2 } from './stray-pm2.ts'
import { exitIfPortsInUse } from './ports-in-use.ts'

const DEMO_AGENTS = ['demo-1', 'demo-2']

const config = resolveHubConfig(process.env)
await exitIfPortsInUse(config.host, [config.port], `set PORT to a free one, e.g. PORT=${config.port + 1} npm start`)
const dataDir = resolve(config.dataDir)
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

// As root, the demo tasks run as an unprivileged user (`nobody`) in folders of their own under
// the temp dir: the data dir (0700) with the hub's secret, the tokens and pm2's home stays closed
// to them, and so does every process of root's (/proc/<pid>/environ).
const taskUser = process.getuid?.() === 0 ? unprivilegedUser() : null
const taskRoot = join(tmpdir(), 'agentcom-demo-tasks')
if (taskUser) {
  await mkdir(taskRoot, { recursive: true })
  await chmod(taskRoot, 0o755) // searchable, so each task dir below it (0700, the user's own) is reachable
}

const require = createRequire(import.meta.url)
const pm2Runtime = join(require.resolve('pm2/package.json'), '..', 'bin', 'pm2-runtime')
const env: Record<string, string | undefined> = {
  ...process.env,
  PM2_HOME: join(dataDir, 'pm2'),
  AGENTCOM_DATA_DIR: dataDir,
  PORT: String(config.port),
  HOST: config.host,
  AGENTCOM_DEMO_AGENTS: DEMO_AGENTS.join(','),
  ...(taskUser ? { AGENTCOM_DEMO_TASK_USER: taskUser, AGENTCOM_DEMO_TASK_ROOT: taskRoot } : {}),
  ...Object.fromEntries(tokenFiles.map((file, i) => [`AGENTCOM_DEMO_TOKEN_FILE_${i}`, file])),
}
// The sidecars are told which pm2 app they are by pm2 itself, never by our own environment.
delete env.pm_id
delete env.name

const child = spawn(process.execPath, [pm2Runtime, 'start', join(import.meta.dirname, 'demo-fleet.config.cjs')], {
  env,
  stdio: ['ignore', 'inherit', 'inherit'],
})

// Ctrl-C reaches pm2-runtime too (same process group); a signal sent to us alone is passed on.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => child.kill(signal))
}
child.on('exit', (code, signal) => {
  void stopStrayPm2(env.PM2_HOME!).finally(() => process.exit(code ?? (signal ? 1 : 0)))
})

const url = `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${config.port}`
if (await waitForHealth(url, 30 * SECOND, () => child.exitCode === null)) {
  const auth = `-H "Authorization: Bearer ${adminToken}"`
  process.stdout.write(
    [
      '',
      `AgentCom hub:  ${url}  (pm2 home ${env.PM2_HOME}, demo agents ${DEMO_AGENTS.join(', ')})`,
      `Admin token:   ${adminToken}`,
      `Dashboard:     ${url}/  (paste the admin token to sign in)`,
      taskUser
        ? `Demo tasks:    run as ${taskUser} in ${taskRoot}`
        : 'Demo tasks:    run as your own user and can read what you can (start as root to run them as nobody)',
      '',
      'List the agents:',
      `  curl -s ${auth} ${url}/api/admin/agents`,
      'Restart one (it comes back with restart_count one higher):',
      `  curl -s -X POST ${auth} ${url}/api/admin/agents/${DEMO_AGENTS[0]}/restart`,
      'Run a task:',
      `  curl -s -X POST ${auth} ${url}/api/admin/tasks -d '{"input":{"sleep_ms":5000}}'`,
      'Watch every change as it happens (Server-Sent Events):',
      `  curl -N -s ${auth} ${url}/api/admin/events`,
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n') + '\n',
  )
} else {
  process.stderr.write(`agentcom: the hub did not answer on ${url} within 30 s; see the logs above\n`)
}

/** `nobody` when this machine has it (Debian's uid 65534), else null: the tasks then run as root. */
function unprivilegedUser(): string | null {
  try {
    execFileSync('id', ['-u', 'nobody'], { stdio: 'ignore' })
    return 'nobody'
  } catch {
    process.stderr.write('agentcom: no user "nobody" on this machine: the demo tasks run as root\n')
    return null
  }
}
