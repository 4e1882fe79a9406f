import { defineConfig } from 'vitest/config'
import { isArrayTypesFetchFailure } from './hub/pg/types-fetch.ts'

/**
 * `npm run test:hardening`: bad input, auth, faults, load and limits against real hub
 * processes (docs/reliability.md). Full size by default; AGENTCOM_HARDENING_SCALE=ci for CI.
 * One file at a time: the figures are timings and memory, and the machine is the instrument; so
 * are the lease's timings in lease-split (a hub cut off from the database alone).
 */
export default defineConfig({
  test: {
    include: ['test/hardening/**/*.test.ts'],
    // One temporary directory for the run, removed at its end (support/temp-global.ts); the
    // PostgreSQL server the cluster fault tests (lease-split) make their databases on; and the
    // dashboard's script, built from hub/dashboard/browser/ (not committed).
    globalSetup: ['support/temp-global.ts', 'support/postgres-global.ts', 'support/dashboard-global.ts'],
    testTimeout: 20 * 60_000,
    hookTimeout: 2 * 60_000,
    fileParallelism: false,
    allowOnly: false,
    // postgres.js's one unawaited promise (hub/pg/types-fetch.ts), as in vitest.config.ts: lease-split
    // cuts a cluster hub's connections on purpose. Any other unhandled error still fails the run.
    onUnhandledError: (error) => !isArrayTypesFetchFailure(error),
    passWithNoTests: false,
  },
})
