/**
 * Node's durable appends (hub/node/synced-appends.ts) keep each file open, yet the path still
 * decides where an append goes: a data dir moved away fails the append and writes nothing into
 * the moved one, a file replaced by a rename gets the appends of after, and appends to one path
 * land in the order they were made.
 */
import { mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { appendSynced } from '../../hub/node/synced-appends.ts'

const dirs: string[] = []
async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'agentcom-append-'))
  dirs.push(dir, `${dir}.saved`)
  return dir
}
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))

describe('synced appends', () => {
  it('creates the file owner-only and appends in the order called', async () => {
    const path = join(await dataDir(), 'j')
    await Promise.all(Array.from({ length: 50 }, (_, i) => appendSynced(path, `${i}\n`)))
    expect(await readFile(path, 'utf8')).toBe(Array.from({ length: 50 }, (_, i) => `${i}\n`).join(''))
    expect((await stat(path)).mode & 0o777).toBe(0o600)
  })

  it('fails while the data dir is swapped for a file, writes nothing into the moved dir, and works once it is back', async () => {
    const dir = await dataDir()
    const path = join(dir, 'j')
    await appendSynced(path, 'a\n')
    await rename(dir, `${dir}.saved`)
    await writeFile(dir, 'a file where the data dir was')
    await expect(appendSynced(path, 'b\n')).rejects.toThrow(/ENOTDIR|ENOENT/)
    expect(await readFile(join(`${dir}.saved`, 'j'), 'utf8')).toBe('a\n')
    await rm(dir)
    await rename(`${dir}.saved`, dir)
    await appendSynced(path, 'c\n')
    expect(await readFile(path, 'utf8')).toBe('a\nc\n')
  })

  it('appends to the file the path names now once the old one is replaced by a rename', async () => {
    const dir = await dataDir()
    const path = join(dir, 'j')
    await appendSynced(path, 'old\n')
    await writeFile(join(dir, 'j.tmp'), 'header\n')
    await rename(join(dir, 'j.tmp'), path)
    await appendSynced(path, 'new\n')
    expect(await readFile(path, 'utf8')).toBe('header\nnew\n')
  })

  it('recreates a file deleted between appends', async () => {
    const path = join(await dataDir(), 'j')
    await appendSynced(path, 'a\n')
    await rm(path)
    await appendSynced(path, 'b\n')
    expect(await readFile(path, 'utf8')).toBe('b\n')
  })

  it('keeps appending to many paths (past the open-file bound) without mixing them', async () => {
    const dir = await dataDir()
    for (let round = 0; round < 2; round++) {
      await Promise.all(Array.from({ length: 12 }, (_, i) => appendSynced(join(dir, `f${i}`), `${round}\n`)))
    }
    for (let i = 0; i < 12; i++) expect(await readFile(join(dir, `f${i}`), 'utf8')).toBe('0\n1\n')
  })
})
