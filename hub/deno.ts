/**
 * The hub on Deno: `npm run hub:deno`. Wiring only; the same core as hub/node.ts.
 */
import { upgradeWebSocket } from 'hono/deno'
import { createHub } from './app.ts'
import { ensureSecret, hubSettings, resolveHubConfig, type SecretFiles } from './config.ts'
import { createLogger } from '../shared/log.ts'

const files: SecretFiles = {
  async read(path) {
    try {
      return await Deno.readTextFile(path)
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) return null
      throw err
    }
  },
  async createExclusive(path, text) {
    try {
      await Deno.writeTextFile(path, text, { createNew: true, mode: 0o600 })
      return true
    } catch (err) {
      if (err instanceof Deno.errors.AlreadyExists) return false
      throw err
    }
  },
  async mkdirp(path) {
    await Deno.mkdir(path, { recursive: true, mode: 0o700 })
  },
}

const log = createLogger('hub')
let config
try {
  config = resolveHubConfig(Deno.env.toObject())
} catch (err) {
  console.error(`agentcom hub: ${(err as Error).message}`)
  Deno.exit(78)
}
const secret = await ensureSecret(config, files)
const hub = createHub({ upgradeWebSocket, secret, ...hubSettings(config), log })

const server = Deno.serve(
  {
    port: config.port,
    hostname: config.host,
    onListen: ({ hostname, port }: { hostname: string; port: number }) => {
      log.info('hub listening', { url: `http://${hostname}:${port}`, runtime: `deno ${Deno.version.deno}` })
    },
  },
  hub.app.fetch,
)

const stop = (signal: string) => {
  log.info('hub stopping', { signal })
  hub.close()
  void server.shutdown().then(() => Deno.exit(0))
}
Deno.addSignalListener('SIGINT', () => stop('SIGINT'))
Deno.addSignalListener('SIGTERM', () => stop('SIGTERM'))
