/**
 * The hub on Node: `npm run hub` (and the hub app of `npm start`). Wiring only; the Node
 * specifics are in hub/node/.
 */
import { createLogger } from '../shared/log.ts'
import { ConfigError, EXIT_CONFIG } from '../shared/settings.ts'
import { TASKS_FILE, hubSettings, resolveHubConfig } from './config.ts'
import { ensureSecret } from './secret.ts'
import { createFileTaskStore } from './task-store.ts'
import { REVOCATIONS_FILE, openFileRevocationStore } from './revocations.ts'
import { systemClock } from '../shared/time.ts'
import { startNodeHub } from './node/serve.ts'
import { nodeSecretFiles, nodeStateFiles } from './node/platform.ts'

// Log lines go out once per event-loop turn: one synchronous write per line cost a tenth of
// the hub's time in an identify storm. Flushed before exit.
let pending: string[] = []
const flush = () => {
  if (pending.length === 0) return
  const out = `${pending.join('\n')}\n`
  pending = []
  process.stdout.write(out)
}
const log = createLogger('hub', (line) => {
  if (pending.push(line) === 1) setImmediate(flush)
})
process.on('exit', flush)
let config, revocations
try {
  config = resolveHubConfig(process.env)
  await nodeSecretFiles.mkdirp(config.dataDir)
  revocations = await openFileRevocationStore(`${config.dataDir}/${REVOCATIONS_FILE}`, nodeStateFiles, systemClock, log)
} catch (err) {
  if (!(err instanceof ConfigError)) throw err
  flush()
  process.stderr.write(`agentcom hub: ${err.message}\n`)
  process.exit(EXIT_CONFIG)
}
const secret = await ensureSecret(config, nodeSecretFiles)
const taskStore = createFileTaskStore(`${config.dataDir}/${TASKS_FILE}`, nodeStateFiles, log)
const running = await startNodeHub({
  port: config.port, host: config.host, secret, ...hubSettings(config), log,
  taskStore, restoredTasks: await taskStore.load(), revocations,
})
log.info('hub listening', { url: running.url, runtime: `node ${process.version}` })

const stop = (signal: string) => {
  log.info('hub stopping', { signal })
  void running.close().then(() => process.exit(0))
}
process.once('SIGINT', () => stop('SIGINT'))
process.once('SIGTERM', () => stop('SIGTERM'))
