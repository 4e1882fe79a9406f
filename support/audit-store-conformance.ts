/**
 * One behaviour suite for every AuditStore (the file in the data dir, the PostgreSQL table):
 * ids that grow, newest first, the filters, paging by cursor to the end, and a store opened
 * again on the same place holding what the first one appended.
 */
import { describe, expect, it } from 'vitest'
import type { AuditEntry, AuditStore } from '../hub/access/audit-store.ts'

export interface AuditStoreUnderTest {
  /** A store on a place of its own, empty. */
  fresh(): Promise<{ store: AuditStore; reopen(): Promise<AuditStore> }>
}

export function entry(n: number, over: Partial<AuditEntry> = {}): AuditEntry {
  return {
    at: 1_700_000_000_000 + n, actor: { name: n % 2 ? 'alice' : 'bob', role: 'operator', jti: `jti-${n % 2}` }, peer: '127.0.0.1:1',
    action: n % 3 ? 'agent.restart' : 'task.create', target: `w-${n % 4}`, detail: { n }, status: 200, ...over,
  }
}

export function describeAuditStore(name: string, under: AuditStoreUnderTest): void {
  describe(`audit store: ${name}`, () => {
    it('hands back each record with an id that grows, newest first', async () => {
      const { store } = await under.fresh()
      const a = await store.append(entry(1))
      const b = await store.append(entry(2))
      expect(Number(b.audit_id)).toBeGreaterThan(Number(a.audit_id))
      expect(b).toEqual({ audit_id: b.audit_id, ...entry(2) })
      expect((await store.list({}, null, 10))).toEqual({ records: [b, a], next_cursor: null })
    })

    it('filters by actor name or jti, action and target, together', async () => {
      const { store } = await under.fresh()
      for (let n = 1; n <= 24; n++) await store.append(entry(n))
      const ns = async (f: object) => (await store.list(f, null, 100)).records.map((r) => (r.detail as { n: number }).n)
      expect(await ns({ actor: 'alice' })).toEqual([23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1])
      expect(await ns({ actor: 'jti-0' })).toEqual([24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2])
      expect(await ns({ action: 'task.create' })).toEqual([24, 21, 18, 15, 12, 9, 6, 3])
      expect(await ns({ action: 'task.create', target: 'w-0', actor: 'bob' })).toEqual([24, 12])
      expect(await ns({ actor: 'carol' })).toEqual([])
    })

    it('pages by cursor to the end, each record once', async () => {
      const { store } = await under.fresh()
      for (let n = 1; n <= 25; n++) await store.append(entry(n, { actor: { join_jti: 'j-1' }, action: 'enroll' }))
      const seen: number[] = []
      let cursor: string | null = null
      let pages = 0
      do {
        const page = await store.list({ actor: 'j-1' }, cursor, 10)
        seen.push(...page.records.map((r) => (r.detail as { n: number }).n))
        cursor = page.next_cursor
        pages++
      } while (cursor !== null)
      expect(pages).toBe(3)
      expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => 25 - i))
    })

    it('a store opened again holds every record appended, and goes on with higher ids', async () => {
      const { store, reopen } = await under.fresh()
      const appended = await Promise.all([1, 2, 3, 4, 5].map((n) => store.append(entry(n))))
      const again = await reopen()
      const listed = (await again.list({}, null, 10)).records
      expect(listed.map((r) => r.audit_id).sort()).toEqual(appended.map((r) => r.audit_id).sort())
      const next = await again.append(entry(6))
      expect(Number(next.audit_id)).toBeGreaterThan(Math.max(...appended.map((r) => Number(r.audit_id))))
    })
  })
}
