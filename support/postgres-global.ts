/**
 * vitest globalSetup of the `pg` project: one PostgreSQL server for the whole run, an
 * embedded one unless AGENTCOM_TEST_DATABASE_URL names a server to use. Each test file makes
 * its own database on it (test/support/test-database.ts), so files stay independent.
 */
import type { TestProject } from 'vitest/node'
import { startEmbeddedPostgres } from '../scripts/embedded-postgres.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    /** A URL to a database the tests may create databases from (with CREATEDB rights). */
    postgresUrl: string
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const external = process.env.AGENTCOM_TEST_DATABASE_URL
  if (external) {
    project.provide('postgresUrl', external)
    return undefined
  }
  // Throwaway data: no fsync, so tests do not wait on the disk of a shared machine.
  const server = await startEmbeddedPostgres({ flags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'] })
  project.provide('postgresUrl', server.url)
  return () => server.stop()
}
