/**
 * vitest globalSetup: builds the dashboard's browser script (scripts/build-dashboard.ts) before
 * any test imports the hub, so a fresh clone tests without a build of its own and the hub under
 * test always serves the script of the sources being tested. It writes only on a change.
 */
import { buildDashboard } from '../scripts/build-dashboard.ts'

export default async function setup(): Promise<void> {
  await buildDashboard()
}
