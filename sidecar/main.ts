/**
 * The sidecar process: `npm run sidecar`, or under pm2 via sidecar/ecosystem.config.cjs.
 * The only file that reads process.env, handles signals or calls process.exit.
 */
import { randomUUID } from 'node:crypto'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { createLogger, resolveLogSettings, type LogSettings } from '../shared/log.ts'
import { systemClock } from '../shared/time.ts'
import { ConfigError, EXIT_CONFIG } from '../shared/settings.ts'
import { readFile } from 'node:fs/promises'
import { loadSidecarConfig, plainTextHubHosts, type SidecarConfig } from './config.ts'
import { execRunner } from './exec-runner.ts'
import { buildTaskEnv, lookupUser, prepareTaskDir, refusedTaskEnvNames } from './task-context.ts'
import { execTask } from './executor.ts'
import { createHubLink } from './hub-link.ts'
import { createPm2Adapter } from './pm2.ts'
import { TaskQueue } from './queue.ts'
import { createSidecar } from './sidecar.ts'
import { processStatsSampler } from './stats.ts'
import { hostname } from 'node:os'
import { AGENTCOM_VERSION } from './version.ts'

let config: SidecarConfig
let logSettings: LogSettings
try {
  logSettings = resolveLogSettings(process.env, process.stdout.isTTY === true)
  config = await loadSidecarConfig(process.env, {
    readTextFile: (path) => readFile(path, 'utf8'),
    uid: process.getuid?.() ?? -1,
    lookupUser: (spec) => lookupUser(spec, execRunner),
  })
  await prepareTaskDir(config.taskDir, config.taskUser, true).catch((err: Error) => {
    throw new ConfigError(`AGENTCOM_TASK_DIR: ${err.message}`)
  })
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  process.stderr.write(`agentcom sidecar: ${err.message}\n`)
  process.exit(EXIT_CONFIG)
}

const log = createLogger(`sidecar:${config.agentId}`, undefined, logSettings.level, logSettings.format)
const pm2Bin = createRequire(import.meta.url).resolve('pm2/bin/pm2')
const pm2 = createPm2Adapter({
  runner: execRunner, env: process.env, pid: process.pid, log, clock: systemClock,
  pm2Command: [process.execPath, pm2Bin],
})
const queue = await TaskQueue.open(join(config.dataDir, `sidecar-${config.agentId}.queue.json`), log)
// Tasks get an allowlisted environment: never a credential, never one of pm2's variables.
const taskEnv = buildTaskEnv(process.env, config.taskEnv, { user: config.taskUser, taskDir: config.taskDir })
const refused = refusedTaskEnvNames(config.taskEnv, process.env)
if (refused.length > 0) log.warn('AGENTCOM_TASK_ENV lists variables that are never passed to tasks', { names: refused })
if (!config.taskUser) {
  // Said once, at start: a task can read whatever this process can, its token included.
  log.warn('tasks run as this sidecar\'s own user and can read its token and environment; run the sidecar as root with AGENTCOM_TASK_USER to run them as another user (README, "Security model")')
}
for (const host of plainTextHubHosts(config.hubUrls.join(','))) {
  log.warn('sending the agent token over plain ws:// to a host that is not loopback; use wss:// (README, "Security model")', { host })
}

const sidecar = createSidecar({
  config, pm2, queue, log, taskEnv,
  prepareTaskDir: () => prepareTaskDir(config.taskDir, config.taskUser),
  instanceId: randomUUID(),
  hostFacts: { version: AGENTCOM_VERSION, node_version: process.version, hostname: hostname(), platform: process.platform, arch: process.arch },
  connect: (handlers) => createHubLink({ url: config.hubUrls, log, ...handlers }),
  exec: execTask,
  stats: processStatsSampler(),
  exit: (code) => process.exit(code),
})
const running = await sidecar.start()
log.info('sidecar started', {
  agent_id: config.agentId, hub_urls: config.hubUrls, supervised: pm2.supervised,
  pm2_name: config.processName, pid: process.pid, task_dir: config.taskDir, task_user: config.taskUser?.name ?? null,
})

let stopping = false
const stop = (signal: string) => {
  if (stopping) return
  stopping = true
  log.info('stopping', { signal })
  void running.stop().then(() => process.exit(0))
}
process.on('SIGINT', () => stop('SIGINT'))
process.on('SIGTERM', () => stop('SIGTERM'))
