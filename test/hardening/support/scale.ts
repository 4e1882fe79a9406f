/**
 * How big the hardening runs are: `full` by default (the figures in docs/reliability.md), or
 * `ci` (AGENTCOM_HARDENING_SCALE=ci), small enough for CI's budget. Anything else is refused.
 */
import { MINUTE, SECOND } from '../../../shared/time.ts'
import type { Runtime } from '../../../support/hub-process.ts'

export type Scale = 'full' | 'ci'

const raw = process.env.AGENTCOM_HARDENING_SCALE ?? 'full'
if (raw !== 'full' && raw !== 'ci') throw new Error(`AGENTCOM_HARDENING_SCALE must be "full" or "ci", got ${JSON.stringify(raw)}`)
export const SCALE: Scale = raw

const SIZES = {
  full: {
    /** Fuzzed WebSocket frames per runtime. */
    wsFrames: 10_000,
    /** Malformed HTTP requests per runtime. */
    httpRequests: 1_000,
    /** Sidecars connected when the hub is killed. */
    killSidecars: 200,
    /** Agents connected during the load run, and how long it lasts. */
    loadAgents: 1_000,
    loadDurationMs: 10 * MINUTE,
    /** Tasks and restarts submitted per second during the load run. */
    loadTasksPerS: 40,
    loadRestartsPerS: 4,
    /** Ping interval and pong timeout of the dead-hub test: the sidecar's defaults. */
    deadHubPing: { pingIntervalMs: 15 * SECOND, pongTimeoutMs: 10 * SECOND },
    /** The hub's idle timeout in the silent-socket test: its default. */
    silentIdleTimeoutMs: 60 * SECOND,
    /** Connection drops timed around a restart command. */
    raceRounds: 8,
  },
  ci: {
    wsFrames: 10_000,
    httpRequests: 1_000,
    killSidecars: 200,
    loadAgents: 300,
    loadDurationMs: 45 * SECOND,
    loadTasksPerS: 20,
    loadRestartsPerS: 3,
    deadHubPing: { pingIntervalMs: 1 * SECOND, pongTimeoutMs: 2 * SECOND },
    silentIdleTimeoutMs: 3 * SECOND,
    raceRounds: 3,
  },
} as const

export const sizes = SIZES[SCALE]

/**
 * Runtimes of the hub for the light tests (auth, fuzz, limits, dead peers): both unless
 * AGENTCOM_TEST_RUNTIME names one. The heavy tests (hub kill, load) run on one, node by default.
 */
const only = process.env.AGENTCOM_TEST_RUNTIME
export const RUNTIMES: Runtime[] = only === 'node' || only === 'deno' ? [only] : ['node', 'deno']
export const HEAVY_RUNTIME: Runtime = only === 'deno' ? 'deno' : 'node'
