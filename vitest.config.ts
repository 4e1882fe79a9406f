import { defineConfig } from 'vitest/config'
import { isArrayTypesFetchFailure } from './hub/pg/types-fetch.ts'

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
    // postgres.js's one unawaited promise (hub/pg/types-fetch.ts): a connection reset while it
    // reads the array types on a new connection, which test/pg provokes on purpose (the hubs'
    // entries ignore exactly this one too). Any other unhandled error still fails the run.
    onUnhandledError: (error) => !isArrayTypesFetchFailure(error),
    passWithNoTests: false,
    // One temporary directory for the run, removed at its end (support/temp-global.ts). The
    // dashboard's script is built from hub/dashboard/browser/ (not committed): build it first.
    globalSetup: ['support/temp-global.ts', 'support/dashboard-global.ts'],
    projects: [
      {
        extends: true,
        test: { name: 'node', include: ['test/unit/**/*.test.ts', 'test/e2e/**/*.test.ts', 'test/package/**/*.test.ts'], env: { AGENTCOM_TEST_RUNTIME: 'node' } },
      },
      {
        extends: true,
        test: { name: 'deno', include: ['test/e2e/**/*.test.ts'], exclude: ['test/e2e/npm-start.test.ts', 'test/e2e/start-port-in-use.test.ts'], env: { AGENTCOM_TEST_RUNTIME: 'deno' } },
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
