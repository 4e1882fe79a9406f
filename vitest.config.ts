import { defineConfig } from 'vitest/config'

/**
 * `npm test` runs two projects: every test with the hub on Node, and the tests that start a
 * hub process (test/e2e) again with the hub on Deno. Hardening runs apart: npm run test:hardening.
 */
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The end-to-end files each run a pm2 daemon and sidecars: two at a time fit 2 cores.
    maxWorkers: 2,
    allowOnly: false,
    passWithNoTests: false,
    projects: [
      {
        extends: true,
        test: { name: 'node', include: ['test/unit/**/*.test.ts', 'test/e2e/**/*.test.ts'], env: { AGENTCOM_TEST_RUNTIME: 'node' } },
      },
      {
        extends: true,
        test: { name: 'deno', include: ['test/e2e/**/*.test.ts'], env: { AGENTCOM_TEST_RUNTIME: 'deno' } },
      },
    ],
  },
})
