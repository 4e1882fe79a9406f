/**
 * The sidecar process: `npm run sidecar`, or under pm2 via sidecar/ecosystem.config.cjs.
 * The only file that reads process.env, handles signals or calls process.exit.
 */
import { randomUUID } from 'node:crypto'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { createLogger } from '../shared/log.ts'
import { systemClock } from '../shared/time.ts'
import { ConfigError, EXIT_CONFIG } from '../shared/settings.ts'
import { resolveSidecarConfig, type SidecarConfig } from './config.ts'
import { execRunner } from './exec-runner.ts'
import { execTask } from './executor.ts'
import { createHubLink } from './hub-link.ts'
import { createPm2Adapter } from './pm2.ts'
import { TaskQueue } from './queue.ts'
import { createSidecar } from './sidecar.ts'

let config: SidecarConfig
try {
  config = resolveSidecarConfig(process.env)
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  process.stderr.write(`agentcom sidecar: ${err.message}\n`)
  process.exit(EXIT_CONFIG)
}

const log = createLogger(`sidecar:${config.agentId}`)
const pm2Bin = createRequire(import.meta.url).resolve('pm2/bin/pm2')
const pm2 = createPm2Adapter({
  runner: execRunner, env: process.env, pid: process.pid, log, clock: systemClock,
  pm2Command: [process.execPath, pm2Bin],
})
const queue = await TaskQueue.open(join(config.dataDir, `sidecar-${config.agentId}.queue.json`), log)
// The task command gets the sidecar's environment, but never its token.
const { AGENTCOM_TOKEN: _token, ...taskEnv } = process.env

const sidecar = createSidecar({
  config, pm2, queue, log, taskEnv,
  instanceId: randomUUID(),
  connect: (handlers) => createHubLink({ url: config.hubUrl, log, ...handlers }),
  exec: execTask,
  exit: (code) => process.exit(code),
})
const running = await sidecar.start()
log.info('sidecar started', {
  agent_id: config.agentId, hub_url: config.hubUrl, supervised: pm2.supervised,
  pm2_name: config.processName, pid: process.pid,
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
