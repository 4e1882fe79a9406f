/**
 * The hub on Deno: `npm run hub:deno`. Wiring only; the same core as hub/node.ts.
 */
import { upgradeWebSocket } from 'hono/deno'
import { createHub } from './app.ts'
import { TASKS_FILE, ensureSecret, hubSettings, resolveHubConfig, type SecretFiles } from './config.ts'
import { createFileTaskStore, type StateFiles } from './task-store.ts'
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

const stateFiles: StateFiles = {
  read: files.read,
  async writeAtomic(path, text) {
    const tmp = `${path}.tmp`
    const file = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 })
    try {
      const bytes = new TextEncoder().encode(text)
      for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at))
      await file.sync()
    } finally {
      file.close()
    }
    await Deno.rename(tmp, path)
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
await files.mkdirp(config.dataDir)
const secret = await ensureSecret(config, files)
const taskStore = createFileTaskStore(`${config.dataDir}/${TASKS_FILE}`, stateFiles, log)
const hub = createHub({
  upgradeWebSocket, secret, ...hubSettings(config), log, taskStore, restoredTasks: await taskStore.load(),
})

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
