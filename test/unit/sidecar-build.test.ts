/**
 * What pm2 runs (dist/sidecar.js, built by `npm install`) is the sidecar's sources and nothing
 * else, and sidecar/pm2-app.cjs refuses a build that is missing or older than its sources.
 */
import { createHash } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ROOT, buildSidecar } from '../../scripts/build-sidecar.ts'

const temps: string[] = []
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'agentcom-build-'))
  temps.push(dir)
  return dir
}
afterEach(async () => {
  for (const dir of temps.splice(0)) await rm(dir, { recursive: true, force: true })
})

describe('the built sidecar', () => {
  it('is what building the current sources gives, byte for byte', async () => {
    expect(existsSync(join(ROOT, 'dist/sidecar.js')), 'dist/sidecar.js is missing: run npm install (or npm run build)').toBe(true)
    const out = await tempDir()
    const inputs = await buildSidecar(out)
    expect(Object.keys(inputs)).toContain('sidecar/main.ts')
    expect(await readFile(join(out, 'sidecar.js'), 'utf8')).toBe(await readFile(join(ROOT, 'dist/sidecar.js'), 'utf8'))
    expect(JSON.parse(await readFile(join(ROOT, 'dist/sidecar.inputs.json'), 'utf8'))).toEqual(inputs)
  })
})

describe('sidecar/pm2-app.cjs', () => {
  /** A copy of pm2-app.cjs in a scratch repository, with a build of one source file. */
  async function scratchRepo(build: 'fresh' | 'none') {
    const root = await tempDir()
    mkdirSync(join(root, 'sidecar'))
    cpSync(join(ROOT, 'sidecar/pm2-app.cjs'), join(root, 'sidecar/pm2-app.cjs'))
    writeFileSync(join(root, 'sidecar/main.ts'), 'export {}\n')
    if (build === 'fresh') {
      mkdirSync(join(root, 'dist'))
      writeFileSync(join(root, 'dist/sidecar.js'), 'export {}\n')
      const hash = createHash('sha256').update(readFileSync(join(root, 'sidecar/main.ts'))).digest('hex')
      writeFileSync(join(root, 'dist/sidecar.inputs.json'), JSON.stringify({ 'sidecar/main.ts': hash }))
    }
    const app = createRequire(import.meta.url)(join(root, 'sidecar/pm2-app.cjs'))
    return { root, sidecarApp: app.sidecarApp as (o: { agentId: string }) => { script: string; node_args: unknown } }
  }

  it('runs the built JavaScript, without tsx', async () => {
    const { root, sidecarApp } = await scratchRepo('fresh')
    expect(sidecarApp({ agentId: 'a-1' })).toMatchObject({ script: join(root, 'dist/sidecar.js'), node_args: [] })
  })

  it('refuses a missing build, naming npm install', async () => {
    const { sidecarApp } = await scratchRepo('none')
    expect(() => sidecarApp({ agentId: 'a-1' })).toThrow(/dist\/sidecar\.js is not built; run `npm install` \(or `npm run build`\)/)
  })

  it('refuses a build older than one of its sources', async () => {
    const { root, sidecarApp } = await scratchRepo('fresh')
    writeFileSync(join(root, 'sidecar/main.ts'), 'export const changed = 1\n')
    expect(() => sidecarApp({ agentId: 'a-1' })).toThrow(/dist\/sidecar\.js is older than sidecar\/main\.ts; run `npm install`/)
  })
})
