/**
 * The audit trail's file store on real files in a temporary data dir (Node's AuditFiles): the
 * store suite, a torn last line left by a crash, the bound (compaction keeps the newest), an
 * append that fails and the next that does not, and the detail the rule keeps of a request.
 */
import { mkdtemp, readFile, rm, writeFile, appendFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { AUDIT_FILE, openFileAuditStore, type AuditFiles } from '../../hub/access/audit-file.ts'
import { detailOf } from '../../hub/access/audit.ts'
import { nodeAuditFiles } from '../../hub/node/audit-files.ts'
import { silentLogger } from '../../shared/log.ts'
import { describeAuditStore, entry } from '../../support/audit-store-conformance.ts'
import { waitFor } from '../../support/wait.ts'

const dirs: string[] = []
async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'agentcom-audit-'))
  dirs.push(dir)
  return dir
}
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))))

describeAuditStore('file', {
  async fresh() {
    const path = join(await dataDir(), AUDIT_FILE)
    const open = () => openFileAuditStore(path, nodeAuditFiles, { log: silentLogger })
    return { store: await open(), reopen: open }
  },
})

describe('audit file', () => {
  it('skips a torn last line (a hub killed mid-append) and keeps the whole ones', async () => {
    const path = join(await dataDir(), AUDIT_FILE)
    const store = await openFileAuditStore(path, nodeAuditFiles, { log: silentLogger })
    await store.append(entry(1))
    await store.append(entry(2))
    await appendFile(path, '{"audit_id":"3","at":17')
    const again = await openFileAuditStore(path, nodeAuditFiles, { log: silentLogger })
    expect((await again.list({}, null, 10)).records.map((r) => r.audit_id)).toEqual(['2', '1'])
    // The next append starts on its own line, so the torn one never swallows it.
    await again.append(entry(4))
    const third = await openFileAuditStore(path, nodeAuditFiles, { log: silentLogger })
    expect((await third.list({}, null, 10)).records.map((r) => (r.detail as { n: number }).n)).toEqual([4, 2, 1])
  })

  it('is bounded: past one and a half times `keep` the file is rewritten with the newest `keep`', async () => {
    const path = join(await dataDir(), AUDIT_FILE)
    const store = await openFileAuditStore(path, nodeAuditFiles, { log: silentLogger, keep: 10 })
    for (let n = 1; n <= 16; n++) await store.append(entry(n))
    // Compaction runs after the append that crossed the bound has been answered.
    const lines = await waitFor(async () => (await readFile(path, 'utf8')).trim().split('\n'), (now) => now.length === 10, { what: 'compaction' })
    expect(JSON.parse(lines[0]).detail).toEqual({ n: 7 })
    const listed = (await store.list({}, null, 100)).records.map((r) => (r.detail as { n: number }).n)
    expect(listed).toEqual([16, 15, 14, 13, 12, 11, 10, 9, 8, 7])
    const again = await openFileAuditStore(path, nodeAuditFiles, { log: silentLogger, keep: 10 })
    expect((await again.list({}, null, 100)).records.length).toBe(10)
  })

  it('rejects an append it could not store, and stores the next one whole after a half-written one', async () => {
    let failNext = false
    let content = ''
    const files: AuditFiles = {
      read: async () => content,
      append: async (_p, text) => {
        if (failNext) {
          failNext = false
          content += text.slice(0, 5)
          throw new Error('ENOSPC')
        }
        content += text
      },
      writeAtomic: async (_p, text) => {
        content = text
      },
    }
    const store = await openFileAuditStore('x', files, { log: silentLogger })
    await store.append(entry(1))
    failNext = true
    await expect(store.append(entry(2))).rejects.toThrow('ENOSPC')
    await store.append(entry(3))
    const again = await openFileAuditStore('x', files, { log: silentLogger })
    expect((await again.list({}, null, 10)).records.map((r) => (r.detail as { n: number }).n)).toEqual([3, 1])
  })

  it('refuses to read a damaged file into wrong records: unreadable lines are skipped, not guessed', async () => {
    const path = join(await dataDir(), AUDIT_FILE)
    const line = (n: number) => JSON.stringify({ audit_id: String(n), ...entry(n) })
    await writeFile(path, `not json\n${line(5)}\n${line(7)}\n{"audit_id":6}\n`)
    const store = await openFileAuditStore(path, nodeAuditFiles, { log: silentLogger })
    expect((await store.list({}, null, 10)).records.map((r) => r.audit_id)).toEqual(['7', '5'])
    expect((await store.append(entry(8))).audit_id).toBe('8')
  })
})

describe('what the trail keeps of a request', () => {
  it('keeps the fields, drops credential fields, blanks token-shaped strings, and keeps only the size of a large field', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl'
    expect(detailOf(JSON.stringify({
      reason: 'deploy', token: jwt, agent_token: 'x', note: `pasted ${jwt} here`, input: 'y'.repeat(5000), n: 1,
    }))).toEqual({ reason: 'deploy', note: 'pasted [redacted] here', input: { omitted: true, bytes: 5002 }, n: 1 })
    expect(detailOf('')).toEqual({})
    expect(detailOf('[1]')).toEqual({ body: 'not_an_object' })
    expect(detailOf('{nope')).toEqual({ body: 'not_json', bytes: 5 })
  })
})
