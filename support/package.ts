/**
 * The npm package as a user gets it, for the install and upgrade tests: `npm pack` of this
 * repository, `npm install --omit=dev` of the tarball into an empty folder, and `agentcom`
 * run from there with plain node.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'
import { PACKAGE_OUT, buildPackage } from '../scripts/build-package.ts'

const run = promisify(execFile)
export const ROOT = join(import.meta.dirname, '..')

/** The environment of a child that must not inherit this run's AgentCom or pm2 settings. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env }
  for (const key of Object.keys(env)) if (key.startsWith('AGENTCOM_') || key.startsWith('PM2_') || key === 'pm_id') delete env[key]
  return { ...env, ...extra }
}

/**
 * `npm pack` of the repository into `dir`, as package version `version` (default package.json's);
 * the tarball's path. Packed from a staging copy of what the package holds, with the bundle built
 * there as `npm pack`'s prepare builds it, so that no test rewrites the repository's dist/ while
 * other tests run it.
 */
export async function packProject(dir: string, version?: string): Promise<string> {
  const stage = await mkdtemp(join(tmpdir(), 'agentcom-stage-'))
  try {
    const manifest = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string; files: string[] }
    const packed = version ?? manifest.version
    await writeFile(join(stage, 'package.json'), `${JSON.stringify({ ...manifest, version: packed }, null, 2)}\n`)
    for (const file of ['README.md', 'LICENSE', 'CHANGELOG.md', 'service']) await cp(join(ROOT, file), join(stage, file), { recursive: true })
    await buildPackage(join(stage, PACKAGE_OUT), packed)
    await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: stage, env: cleanEnv(), timeout: 120_000 })
    const tgz = join(dir, `agentcom-${packed}.tgz`)
    if (!existsSync(tgz)) throw new Error(`npm pack left no ${tgz}`)
    return tgz
  } finally {
    await rm(stage, { recursive: true, force: true })
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
