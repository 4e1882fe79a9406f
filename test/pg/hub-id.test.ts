/**
 * One hub id, one live process: a hub whose AGENTCOM_HUB_ID another live hub holds refuses to
 * start (exit 78), while a hub started again after a crash under its old id (lease still
 * current, connections gone) takes it back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startClusterRuntime, type ClusterRuntime } from '../../hub/cluster/runtime.ts'
import { ConfigError } from '../../shared/settings.ts'
import { silentLogger } from '../../shared/log.ts'
import { createTestDatabase, type TestDatabase } from '../../support/test-database.ts'
import { startHubProcess } from '../../support/hub-process.ts'

let db: TestDatabase
beforeAll(async () => {
  db = await createTestDatabase()
})
afterAll(async () => {
  await db?.drop()
})

const start = (hubId: string) => startClusterRuntime({ databaseUrl: db.url, hubId, leaseMs: 15_000, runtime: 'node', log: silentLogger })

describe('hub ids in a cluster', () => {
  it('refuses a second live process under one hub id, and takes the id back after a crash', async () => {
    const first = await start('dup-1')
    await expect(start('dup-1')).rejects.toThrow(new ConfigError('AGENTCOM_HUB_ID dup-1 is held by another live hub'))
    // A crash: the connections go, the lease stays current for up to 15 s.
    await first.lease.stop()
    await first.sql.end({ timeout: 0 })
    const again = await start('dup-1')
    await again.stop()
  })

  it.each(['node', 'deno'] as const)('a %s hub process under a held hub id exits 78 with one line saying why', async (runtime) => {
    const holder: ClusterRuntime = await start('dup-2')
    try {
      const refused = await startHubProcess({ AGENTCOM_DATABASE_URL: db.url, AGENTCOM_HUB_ID: 'dup-2' }, runtime).then(
        async (hub) => (await hub.stop(), 'started'),
        (err: Error) => err.message,
      )
      expect(refused).toMatch(/^hub exited with 78:\n/)
      expect(refused).toContain('agentcom hub: AGENTCOM_HUB_ID dup-2 is held by another live hub')
    } finally {
      await holder.stop()
    }
  })
})
