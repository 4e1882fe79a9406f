/**
 * The npm package as a user gets it, for the install and upgrade tests: `npm pack` of this
 * repository, `npm install --omit=dev` of the tarball into an empty folder, and `agentcom`
 * run from there with plain node.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'
import { buildPackage } from '../scripts/build-package.ts'

const run = promisify(execFile)
export const ROOT = join(import.meta.dirname, '..')

/** The environment of a child that must not inherit this run's AgentCom or pm2 settings. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env }
  for (const key of Object.keys(env)) if (key.startsWith('AGENTCOM_') || key.startsWith('PM2_') || key === 'pm_id') delete env[key]
  return { ...env, ...extra }
}

/** `npm pack` of the repository (its prepare script builds dist/) into `dir`; the tarball's path. */
export async function packProject(dir: string): Promise<string> {
  await run('npm', ['pack', '--pack-destination', dir], { cwd: ROOT, env: cleanEnv(), timeout: 120_000 })
  const tgz = (await readdir(dir)).find((name) => /^agentcom-.*\.tgz$/.test(name))
  if (!tgz) throw new Error(`npm pack left no agentcom-*.tgz in ${dir}`)
  return join(dir, tgz)
}

/**
 * The tarball `tgz` again as package version `version`: the same files, with the bundle built
 * for that version (it reports the version it was built as).
 */
export async function repackAs(tgz: string, version: string, dir: string): Promise<string> {
  const work = await mkdtemp(join(tmpdir(), 'agentcom-repack-'))
  try {
    await run('tar', ['xzf', tgz, '-C', work])
    const pkgDir = join(work, 'package')
    const manifest = JSON.parse(await readFile(join(pkgDir, 'package.json'), 'utf8')) as Record<string, unknown>
    await writeFile(join(pkgDir, 'package.json'), `${JSON.stringify({ ...manifest, version }, null, 2)}\n`)
    await rm(join(pkgDir, 'dist/package'), { recursive: true })
    const built = join(work, 'built')
    await buildPackage(built, version)
    await cp(built, join(pkgDir, 'dist/package'), { recursive: true })
    await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: pkgDir, env: cleanEnv(), timeout: 120_000 })
    return join(dir, `agentcom-${version}.tgz`)
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

/** `npm install --omit=dev <tgz>` in `dir` (made if missing, no package of its own); the bin's path. */
export async function installPackage(dir: string, tgz: string): Promise<string> {
  await mkdir(dir, { recursive: true })
  await writeFile(join(dir, 'package.json'), '{ "private": true }\n', { flag: 'wx' }).catch(() => undefined)
  await run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', tgz], { cwd: dir, env: cleanEnv(), timeout: 180_000 })
  return join(dir, 'node_modules/.bin/agentcom')
}

/** Runs `agentcom <args>` with plain node; resolves with its output and exit code. */
export async function agentcom(bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { env, timeout: 120_000 })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string }
    if (typeof e.code !== 'number') throw err
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
  }
}

export interface PackagedHub {
  url: string
  logs: string[]
  child: ChildProcess
  api(method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: any }>
  stop(): Promise<void>
}

/** `agentcom hub` from an installed package, on port 0, JSON logs. */
export async function startPackagedHub(bin: string, env: NodeJS.ProcessEnv): Promise<PackagedHub> {
  const child = spawn(process.execPath, [bin, 'hub'], {
    env: { ...env, PORT: '0', HOST: '127.0.0.1', AGENTCOM_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const logs: string[] = []
  createInterface({ input: child.stderr! }).on('line', (line) => logs.push(line))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agentcom hub did not start:\n${logs.join('\n')}`)), 30_000)
    child.once('exit', (code) => reject(new Error(`agentcom hub exited with ${code}:\n${logs.join('\n')}`)))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      logs.push(line)
      if (line.includes('"hub listening"')) {
        clearTimeout(timer)
        resolve(JSON.parse(line).url)
      }
    })
  })
  return {
    url,
    logs,
    child,
    async api(method, path, token, body) {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      return { status: res.status, body: await res.json() }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    },
  }
}
