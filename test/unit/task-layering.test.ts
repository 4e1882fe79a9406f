/**
 * The task engine sits below cluster mode and its store: nothing under hub/tasks imports from
 * hub/cluster or hub/pg. The cluster hands its claim path in (hub/tasks/claim-path.ts, built by
 * hub/cluster/claim-loop.ts), and its rows are hub/pg's.
 */
import { readdir, readFile } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = join(import.meta.dirname, '..', '..')

/** The files under hub/ that `file` (relative to the root) imports, by their path from the root. */
function importedFiles(file: string, source: string): string[] {
  const specs = [
    ...[...source.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/g)].map((m) => m[1]),
    ...[...source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]),
  ]
  return specs.filter((spec) => spec.startsWith('.')).map((spec) => relative(ROOT, join(ROOT, dirname(file), spec)).split('\\').join('/'))
}

async function filesUnder(dir: string): Promise<string[]> {
  const found: string[] = []
  for (const entry of await readdir(join(ROOT, dir), { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts')) found.push(relative(ROOT, join(entry.parentPath, entry.name)).split('\\').join('/'))
  }
  return found
}

const crossesIntoCluster = (file: string, source: string) =>
  importedFiles(file, source).filter((target) => target.startsWith('hub/cluster/') || target.startsWith('hub/pg/')).map((target) => `${file} -> ${target}`)

describe('hub/tasks layering', () => {
  it('imports nothing from hub/cluster or hub/pg', async () => {
    const files = await filesUnder('hub/tasks')
    expect(files).toContain('hub/tasks/task-engine.ts')
    const offenders: string[] = []
    for (const file of files) offenders.push(...crossesIntoCluster(file, await readFile(join(ROOT, file), 'utf8')))
    expect(offenders).toEqual([])
  })

  it('the check itself sees an import into hub/cluster or hub/pg, and not hub/cluster-seam.ts', () => {
    expect(crossesIntoCluster('hub/tasks/x.ts', "import { ClaimLoop } from '../cluster/claim-loop.ts'\n"))
      .toEqual(['hub/tasks/x.ts -> hub/cluster/claim-loop.ts'])
    expect(crossesIntoCluster('hub/tasks/x.ts', "import type { Sql } from '../pg/connect.ts'\n")).toEqual(['hub/tasks/x.ts -> hub/pg/connect.ts'])
    expect(crossesIntoCluster('hub/tasks/x.ts', "import type { TaskOwner } from '../cluster-seam.ts'\n")).toEqual([])
    expect(crossesIntoCluster('hub/tasks/x.ts', "export { a } from './cluster/a.ts'\n")).toEqual([])
  })
})
