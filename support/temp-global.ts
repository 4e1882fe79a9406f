/**
 * vitest globalSetup: every temporary file of a test run, the tests' own and those of the hubs,
 * sidecars, pm2 daemons and PostgreSQL servers they start, goes into one directory made for the
 * run (TMPDIR, which `os.tmpdir()` and the processes started read), and the directory goes when
 * the run ends. Without it each run left its data dirs in the machine's /tmp for good.
 *
 * vitest runs the root's globalSetup again for each project that extends it, and tears them down
 * in an order of its own. So the first call makes the directory and the others use it (nested,
 * PostgreSQL's socket path in it would pass 107 bytes), and the last teardown removes it, after
 * every other project's (a PostgreSQL server stopped after its files were gone would not stop).
 * The calls share the count through the environment: vitest loads this module once per project.
 */
import { chmodSync, mkdtempSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** The run's directory, as the tests see it in their environment. */
export const RUN_DIR = 'AGENTCOM_TEST_RUN_DIR'
const USERS = 'AGENTCOM_TEST_RUN_DIR_USERS'
const OUTER_TMPDIR = 'AGENTCOM_TEST_OUTER_TMPDIR'

export default function setup(): () => Promise<void> {
  if (!process.env[RUN_DIR]) {
    const dir = mkdtempSync(join(tmpdir(), 'agentcom-run-'))
    // As /tmp is: the PostgreSQL server's own user (support/postgres-global.ts) reads and writes here too.
    chmodSync(dir, 0o1777)
    process.env[RUN_DIR] = dir
    process.env[OUTER_TMPDIR] = process.env.TMPDIR ?? ''
    process.env.TMPDIR = dir
  }
  process.env[USERS] = String(Number(process.env[USERS] ?? 0) + 1)
  return async () => {
    const users = Number(process.env[USERS]) - 1
    process.env[USERS] = String(users)
    if (users > 0) return
    const dir = process.env[RUN_DIR]!
    const outer = process.env[OUTER_TMPDIR]
    if (outer) process.env.TMPDIR = outer
    else delete process.env.TMPDIR
    for (const name of [RUN_DIR, USERS, OUTER_TMPDIR]) delete process.env[name]
    // A pm2 daemon a failed test left running may still write its logs: retried.
    await rm(dir, { recursive: true, force: true, maxRetries: 5 })
  }
}
