/**
 * vitest globalSetup: every temporary file of a test run, the tests' own and those of the hubs,
 * sidecars, pm2 daemons and PostgreSQL servers they start, goes into one directory made for the
 * run (TMPDIR, which `os.tmpdir()` and the processes started read), and the directory goes when
 * the run ends. Without it each run left its data dirs in the machine's /tmp for good.
 */
import { chmodSync, mkdtempSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export default function setup(): () => Promise<void> {
  const outer = process.env.TMPDIR
  const dir = mkdtempSync(join(tmpdir(), 'agentcom-test-run-'))
  // As /tmp is: the PostgreSQL server's own user (support/postgres-global.ts) reads and writes here too.
  chmodSync(dir, 0o1777)
  process.env.TMPDIR = dir
  return async () => {
    if (outer === undefined) delete process.env.TMPDIR
    else process.env.TMPDIR = outer
    // A pm2 daemon a failed test left running may still write its logs: retried.
    await rm(dir, { recursive: true, force: true, maxRetries: 5 })
  }
}
