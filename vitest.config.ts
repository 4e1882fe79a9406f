import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The end-to-end files each run a pm2 daemon and sidecars: two at a time fit 2 cores.
    maxWorkers: 2,
    allowOnly: false,
    passWithNoTests: false,
  },
})
