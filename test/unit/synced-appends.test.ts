/**
 * Node's durable appends (hub/node/append-file-calls.ts over hub/store/synced-appends.ts) keep each
 * file open, yet the path still decides where an append goes: a data dir moved away fails the
 * append and writes nothing into the moved one, a file replaced by a rename gets the appends of
 * after, and appends to one path land in the order they were made.
 */
import { mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { appendSynced } from '../../hub/node/append-file-calls.ts'
import { createSyncedAppends, type AppendFileCalls } from '../../hub/store/synced-appends.ts'

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

describe('the portable helper (hub/store/synced-appends.ts), over fake file calls', () => {
  /** Files by path as a runtime would show them; `opened` counts opens, `closed` the handles closed. */
  function fakeFiles() {
    let nextIno = 1
    const inoAt = new Map<string, number>()
    const data = new Map<number, string>()
    const log = { opened: 0, closed: [] as number[], failNextWrite: false }
    const calls: AppendFileCalls<number> = {
      async open(path) {
        log.opened++
        if (!inoAt.has(path)) inoAt.set(path, nextIno++)
        const ino = inoAt.get(path)!
        return { file: ino, id: { dev: 1, ino } }
      },
      idAt: (path) => (inoAt.has(path) ? { dev: 1, ino: inoAt.get(path)! } : null),
      async writeSynced(ino, bytes) {
        if (log.failNextWrite) {
          log.failNextWrite = false
          throw new Error('EIO')
        }
        data.set(ino, (data.get(ino) ?? '') + new TextDecoder().decode(bytes))
      },
      close: (ino) => log.closed.push(ino),
    }
    const replace = (path: string) => inoAt.set(path, nextIno++)
    const textAt = (path: string) => data.get(inoAt.get(path)!) ?? ''
    return { calls, log, replace, textAt }
  }

  it('keeps one file open per path and opens the file a path names anew once it was replaced', async () => {
    const fs = fakeFiles()
    const append = createSyncedAppends(fs.calls)
    await append('j', 'a\n')
    await append('j', 'b\n')
    expect(fs.log.opened).toBe(1)
    fs.replace('j')
    await append('j', 'c\n')
    expect(fs.log.opened).toBe(2)
    expect(fs.log.closed).toEqual([1])
    expect(fs.textAt('j')).toBe('c\n')
  })

  it('drops the file after a failed write, so the next append starts from a fresh open', async () => {
    const fs = fakeFiles()
    const append = createSyncedAppends(fs.calls)
    await append('j', 'a\n')
    fs.log.failNextWrite = true
    await expect(append('j', 'b\n')).rejects.toThrow('EIO')
    await append('j', 'c\n')
    expect(fs.log.opened).toBe(2)
    expect(fs.textAt('j')).toBe('a\nc\n')
  })
})
