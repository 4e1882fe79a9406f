/**
 * The hub core and shared/ run on Node and Deno alike: they may import only hono, valibot
 * and each other. Runtime code lives in the entry files alone. hub/pg (the cluster store) may
 * import postgres.js too, which runs on both; hub/cluster (cluster mode) reaches it only
 * through hub/pg.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '..', '..')
const ENTRIES = new Set(['hub/node.ts', 'hub/deno.ts'])
const ALLOWED = /^(hono(\/[a-z-]+)*|valibot|\.\.?\/.*\.ts)$/
/** hub/api builds the OpenAPI document with valibot's own converter, Web APIs only. */
const ALLOWED_IN_API = /^@valibot\/to-json-schema$/
const ALLOWED_IN_PG = /^postgres$/

function isAllowed(file: string, spec: string): boolean {
  return ALLOWED.test(spec) || (file.startsWith('hub/pg/') && ALLOWED_IN_PG.test(spec)) || (file.startsWith('hub/api/') && ALLOWED_IN_API.test(spec))
}

/** Runtime code: the two entries and their folders. Everything else under hub/ is the core, by rule. */
const RUNTIME_DIRS = new Set(['hub/node', 'hub/deno'])

/** Every .ts file under hub/ and shared/ (any depth) but the runtime entries and their folders. */
async function coreFiles(): Promise<string[]> {
  const files: string[] = []
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(join(ROOT, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`
      if (entry.isDirectory()) {
        if (!RUNTIME_DIRS.has(rel) && rel !== 'shared/node') await walk(rel)
      } else if (entry.name.endsWith('.ts') && !ENTRIES.has(rel)) files.push(rel)
    }
  }
  await walk('hub')
  await walk('shared')
  return files
}

function importsOf(source: string): string[] {
  const specs = [...source.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/g)].map((m) => m[1])
  const dynamic = [...source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1])
  return [...specs, ...dynamic]
}

describe('portable core', () => {
  it('finds the core files, in every folder under hub/ but the runtime ones', async () => {
    const files = await coreFiles()
    expect(files).toEqual(expect.arrayContaining(['hub/app.ts', 'hub/sockets/socket.ts', 'hub/pg/migrate.ts', 'hub/access/gate.ts', 'shared/protocol.ts']))
    expect(files.filter((f) => /^hub\/(node|deno)(\.ts|\/)/.test(f) || f.startsWith('shared/node/'))).toEqual([])
  })

  it('imports only hono, valibot and relative .ts files', async () => {
    const offenders: string[] = []
    for (const file of await coreFiles()) {
      const source = await readFile(join(ROOT, file), 'utf8')
      for (const spec of importsOf(source)) if (!isAllowed(file, spec) || /^(\.\.\/)+(sidecar|scripts)\//.test(spec)) offenders.push(`${file}: ${spec}`)
      const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, '')
      if (/\b(process|Deno|Bun|Buffer|require)\s*[.(]/.test(code)) offenders.push(`${file}: uses a runtime global`)
    }
    expect(offenders).toEqual([])
  })

  it('the checker itself catches a runtime import', () => {
    expect(importsOf("import { readFile } from 'node:fs'\n").every((s) => ALLOWED.test(s))).toBe(false)
    expect(importsOf("import { serve } from '@hono/node-server'\n").every((s) => ALLOWED.test(s))).toBe(false)
    expect(importsOf("import { Hono } from 'hono'\nimport * as v from 'valibot'\n").every((s) => ALLOWED.test(s))).toBe(true)
    expect(isAllowed('hub/pg/notify-bus.ts', 'postgres')).toBe(true)
    expect(isAllowed('hub/app.ts', 'postgres')).toBe(false)
    expect(isAllowed('hub/pg/notify-bus.ts', 'node:net')).toBe(false)
    expect(isAllowed('hub/api/openapi.ts', '@valibot/to-json-schema')).toBe(true)
    expect(isAllowed('hub/app.ts', '@valibot/to-json-schema')).toBe(false)
  })
})
