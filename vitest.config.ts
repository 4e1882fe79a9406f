import { defineConfig } from 'vitest/config'

/**
 * `npm test` runs these projects: every test with the hub on Node, the tests that start a
 * hub process (test/e2e) again with the hub on Deno, the cluster store's tests (test/pg)
 * against one PostgreSQL server started for the run (support/postgres-global.ts), and the
 * behaviour suite (test/behaviour) once on each store.
 * Hardening runs apart: npm run test:hardening.
 */
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The end-to-end files each run a pm2 daemon and sidecars: two at a time fit 2 cores.
    maxWorkers: 2,
    allowOnly: false,
    passWithNoTests: false,
    // postgres.js 3.4.9 reads the array types on each new connection from a promise nothing
    // awaits; a pool ended (a hub stopping) while one connection is still reading them rejects
    // unhandled. Only that rejection is ignored: every other unhandled error fails the run.
    onUnhandledError: (error) => !isPostgresTypeFetchClosed(error),
    projects: [
      {
        extends: true,
        test: { name: 'node', include: ['test/unit/**/*.test.ts', 'test/e2e/**/*.test.ts', 'test/package/**/*.test.ts'], env: { AGENTCOM_TEST_RUNTIME: 'node' } },
      },
      {
        extends: true,
        test: { name: 'deno', include: ['test/e2e/**/*.test.ts'], exclude: ['test/e2e/npm-start.test.ts'], env: { AGENTCOM_TEST_RUNTIME: 'deno' } },
      },
      {
        extends: true,
        test: { name: 'pg', include: ['test/pg/**/*.test.ts'], globalSetup: ['support/postgres-global.ts'] },
      },
      // The behaviour suite, once per store (support/store-hub.ts): one hub on its data dir, and
      // a hub in cluster mode on the test PostgreSQL.
      {
        extends: true,
        test: { name: 'behaviour-file', include: ['test/behaviour/**/*.test.ts'], env: { AGENTCOM_TEST_STORE: 'file' } },
      },
      {
        extends: true,
        test: {
          name: 'behaviour-pg', include: ['test/behaviour/**/*.test.ts'], globalSetup: ['support/postgres-global.ts'],
          env: { AGENTCOM_TEST_STORE: 'pg' },
        },
      },
    ],
  },
})

function isPostgresTypeFetchClosed(error: unknown): boolean {
  const e = error as { code?: unknown; query?: unknown }
  return e.code === 'CONNECTION_CLOSED' && typeof e.query === 'string' && e.query.includes('pg_catalog.pg_type') && e.query.includes('typarray')
}
