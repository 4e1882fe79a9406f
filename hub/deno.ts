/**
 * The hub on Deno: `npm run hub:deno`. Wiring only; the same core as hub/node.ts, the Deno
 * specifics in hub/deno/.
 */
import { upgradeWebSocket } from 'hono/deno'
import { createHub } from './app.ts'
import { SHUTDOWN_GRACE_MS, hubSettings, resolveHubConfig } from './config/config.ts'
import { isArrayTypesFetchFailure } from './pg/types-fetch.ts'
import { ensureSecret } from './auth/secret.ts'
import { openDataDir, type DataDirStores } from './store/data-dir.ts'
import { canTerminate, denoRemoteAddress, denoSecretFiles, denoStateFiles, denoTerminate, denoTokenMac } from './deno/platform.ts'
import { denoProcessMetrics } from './deno/metrics.ts'
import { denoAuditFiles } from './deno/audit-files.ts'
import { createPgAuditStore } from './access/audit-pg.ts'
import { denoOutputFiles } from './deno/output-files.ts'
import { systemClock } from '../shared/time.ts'
import { createLogger, resolveLogSettings, type LogSettings } from '../shared/log.ts'
import { createLogOutput } from '../shared/log-output.ts'
import { dataDirFailure, listenFailure } from './config/start-failures.ts'
import { ConfigError, EXIT_CONFIG } from '../shared/settings.ts'

let logSettings: LogSettings
try {
  logSettings = resolveLogSettings(Deno.env.toObject(), Deno.stdout.isTerminal())
} catch (err) {
  console.error(`agentcom hub: ${(err as Error).message}`)
  Deno.exit(EXIT_CONFIG)
}
// Log lines go out in batches (shared/log-output.ts), as on Node: console.log's synchronous write
// per line was a tenth of the hub's time in an identify storm. Flushed when the process unloads
// (Deno.exit dispatches unload), and before an uncaught error or an unhandled rejection ends it.
const logOutput = createLogOutput((text) => console.log(text.slice(0, -1)))
globalThis.addEventListener('unload', logOutput.flush)
globalThis.addEventListener('error', logOutput.flush)
const log = createLogger('hub', logOutput.line, logSettings.level, logSettings.format)
// postgres.js's one unawaited promise (see isArrayTypesFetchFailure); any other unhandled
// rejection still ends the process, as Deno's default does.
globalThis.addEventListener('unhandledrejection', (event) => {
  if (!isArrayTypesFetchFailure(event.reason)) return logOutput.flush()
  event.preventDefault()
  log.warn('database connection lost while reading its types', { error: String(event.reason) })
})
let config, secret, saved: DataDirStores | undefined
try {
  config = resolveHubConfig(Deno.env.toObject())
  await denoSecretFiles.mkdirp(config.dataDir)
  // Cluster mode keeps all of it in the database (the cluster runtime's store, below).
  if (!config.cluster) saved = await openDataDir(config.dataDir, { state: denoStateFiles, audit: denoAuditFiles, output: denoOutputFiles }, systemClock, log)
  secret = await ensureSecret(config, denoSecretFiles)
} catch (err) {
  const problem = err instanceof ConfigError ? err.message : config && dataDirFailure(err, config.dataDir)
  if (!problem) throw err
  console.error(`agentcom hub: ${problem}`)
  Deno.exit(EXIT_CONFIG)
}
// Loaded only in cluster mode: a single hub starts without the PostgreSQL client.
const cluster = config.cluster && await (await import('./cluster/runtime.ts')).startClusterRuntime({
  databaseUrl: config.cluster.databaseUrl, hubId: config.hubId, leaseMs: config.cluster.leaseMs, runtime: 'deno', log,
}).catch((err) => {
  if (err instanceof ConfigError) {
    console.error(`agentcom hub: ${err.message}`)
    Deno.exit(EXIT_CONFIG)
  }
  console.error(`agentcom hub: cannot join the cluster database: ${String(err)}`)
  Deno.exit(1)
})
const hub = createHub({
  upgradeWebSocket, secret, ...hubSettings(config), log, hubId: config.hubId,
  ...(cluster ? {
    cluster: cluster.attach, store: cluster.store, revocations: cluster.revocations, joinUses: cluster.joinUses,
    audit: createPgAuditStore(cluster.sql),
  } : saved),
  remoteAddress: denoRemoteAddress, tokenMac: denoTokenMac(secret), processMetrics: denoProcessMetrics(),
  terminateSocket: canTerminate ? denoTerminate : undefined,
})
if (!canTerminate) log.warn('this Deno cannot destroy a socket whose peer does not answer its close (docs/reliability.md)')

let server: Deno.HttpServer
try {
  server = Deno.serve(
    {
      port: config.port,
      hostname: config.host,
      onListen: ({ hostname, port }: { hostname: string; port: number }) => {
        log.info('hub listening', { url: `http://${hostname}:${port}`, runtime: `deno ${Deno.version.deno}`, hub_id: config.hubId })
      },
    },
    hub.app.fetch,
  )
} catch (err) {
  const line = listenFailure(err, config.host, config.port)
  if (!line) throw err
  // Not a setting's fault alone (the holder may go away): exit 1, so pm2 tries again.
  console.error(line)
  Deno.exit(1)
}

let stopping = false
const stop = (signal: string) => {
  if (stopping) return
  stopping = true
  log.info('hub stopping', { signal })
  // Whatever hangs (a database gone, a connection Deno.serve waits on), the process ends in time.
  Deno.unrefTimer(setTimeout(() => {
    log.warn('hub did not stop within its grace; exiting', { grace_ms: SHUTDOWN_GRACE_MS })
    Deno.exit(0)
  }, SHUTDOWN_GRACE_MS))
  hub.close()
  void server.shutdown().then(() => cluster?.stop()).catch((err) => log.error('hub stop failed', { error: String(err) }))
    .finally(() => Deno.exit(0))
}
Deno.addSignalListener('SIGINT', () => stop('SIGINT'))
Deno.addSignalListener('SIGTERM', () => stop('SIGTERM'))
