/**
 * The hub on Node: `npm run hub` (and the hub app of `npm start`). Wiring only; the Node
 * specifics are in hub/node/.
 */
import { createLogger, resolveLogSettings, type LogSettings } from '../shared/log.ts'
import { dataDirFailure, listenFailure } from './config/start-failures.ts'
import { ConfigError, EXIT_CONFIG } from '../shared/settings.ts'
import { hubSettings, resolveHubConfig } from './config/config.ts'
import { ensureSecret } from './auth/secret.ts'
import { openDataDir, type DataDirStores } from './store/data-dir.ts'
import { systemClock } from '../shared/time.ts'
import { startNodeHub } from './node/serve.ts'
import { createLogOutput } from '../shared/log-output.ts'
import { nodeSecretFiles, nodeStateFiles } from './node/platform.ts'
import { nodeAuditFiles } from './node/audit-files.ts'
import { createPgAuditStore } from './access/audit-pg.ts'
import { nodeOutputFiles } from './node/output-files.ts'
import { isArrayTypesFetchFailure } from './pg/types-fetch.ts'
import { SHUTDOWN_GRACE_MS } from './config/config.ts'

// Log lines go out in batches (log-output.ts): one synchronous write per line, then one per
// event-loop turn, cost a tenth of the hub's time in an identify storm. Flushed before exit.
const logOutput = createLogOutput((text) => process.stdout.write(text))
const flush = logOutput.flush
let logSettings: LogSettings
try {
  logSettings = resolveLogSettings(process.env, process.stdout.isTTY === true)
} catch (err) {
  process.stderr.write(`agentcom hub: ${(err as Error).message}\n`)
  process.exit(EXIT_CONFIG)
}
const log = createLogger('hub', logOutput.line, logSettings.level, logSettings.format)
process.on('exit', flush)
// postgres.js's one unawaited promise (see isArrayTypesFetchFailure); any other unhandled
// rejection still ends the process, as Node's default does.
process.on('unhandledRejection', (reason) => {
  if (!isArrayTypesFetchFailure(reason)) throw reason
  log.warn('database connection lost while reading its types', { error: String(reason) })
})
let config, secret, saved: DataDirStores | undefined
try {
  config = resolveHubConfig(process.env)
  await nodeSecretFiles.mkdirp(config.dataDir)
  // Cluster mode keeps all of it in the database (the cluster runtime's store, below).
  if (!config.cluster) saved = await openDataDir(config.dataDir, { state: nodeStateFiles, audit: nodeAuditFiles, output: nodeOutputFiles }, systemClock, log)
  secret = await ensureSecret(config, nodeSecretFiles)
} catch (err) {
  const problem = err instanceof ConfigError ? err.message : config && dataDirFailure(err, config.dataDir)
  if (!problem) throw err
  flush()
  process.stderr.write(`agentcom hub: ${problem}\n`)
  process.exit(EXIT_CONFIG)
}
// Loaded only in cluster mode: a single hub starts without the PostgreSQL client.
const cluster = config.cluster && await (await import('./cluster/runtime.ts')).startClusterRuntime({
  databaseUrl: config.cluster.databaseUrl, hubId: config.hubId, leaseMs: config.cluster.leaseMs, runtime: 'node', log,
}).catch((err) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`agentcom hub: ${err.message}\n`)
    process.exit(EXIT_CONFIG)
  }
  process.stderr.write(`agentcom hub: cannot join the cluster database: ${String(err)}\n`)
  process.exit(1)
})
const running = await startNodeHub({
  port: config.port, host: config.host, secret, ...hubSettings(config), log, hubId: config.hubId,
  ...(cluster ? {
    cluster: cluster.attach, store: cluster.store, revocations: cluster.revocations, joinUses: cluster.joinUses,
    audit: createPgAuditStore(cluster.sql),
  } : saved),
}).catch((err) => {
  const line = listenFailure(err, config.host, config.port)
  if (!line) throw err
  // Not a setting's fault alone (the holder may go away): exit 1, so pm2 tries again.
  process.stderr.write(`${line}\n`)
  process.exit(1)
})
log.info('hub listening', { url: running.url, runtime: `node ${process.version}`, hub_id: config.hubId })

let stopping = false
const stop = (signal: string) => {
  if (stopping) return
  stopping = true
  log.info('hub stopping', { signal })
  // Whatever hangs (a database gone, a peer that never answers its close), the process ends in time.
  setTimeout(() => {
    log.warn('hub did not stop within its grace; exiting', { grace_ms: SHUTDOWN_GRACE_MS })
    process.exit(0)
  }, SHUTDOWN_GRACE_MS).unref()
  void running.close().then(() => cluster?.stop()).catch((err) => log.error('hub stop failed', { error: String(err) }))
    .finally(() => process.exit(0))
}
process.on('SIGINT', () => stop('SIGINT'))
process.on('SIGTERM', () => stop('SIGTERM'))
