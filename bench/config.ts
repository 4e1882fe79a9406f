/**
 * How big each figure's run is. `--quick` keeps the whole run under two minutes for CI and a
 * first look; the full run (under ten minutes) is the one docs/benchmarks.md records.
 */
export interface BenchSizes {
  quick: boolean
  /** Agents connected for the hub figures. */
  agents: number
  /** Identify storms per side (each on a fresh server); the median counts. */
  stormRounds: number
  /** Fleets connected per side to weigh them; the median counts. */
  memoryRounds: number
  /** Restart requests timed per side for the p99, after `commandWarmup` untimed ones. */
  commandSamples: number
  commandWarmup: number
  /** Load-generator runs per side, alternating, each this long; the median counts. */
  rpsRounds: number
  rpsSeconds: number
  rpsConnections: number
  /** Restarts per side under pm2, alternating hub and `pm2 restart`. */
  restartRounds: number
  /** `getInfo()` calls, and as many `execSync` jlists, alternating. */
  selfQueryRounds: number
  /** Other processes in the pm2 beside the sidecar, so jlist has a fleet's size. */
  pm2Neighbours: number
  /** Fresh sidecar and bare process pairs weighed under pm2; the median counts. */
  sidecarRssRounds: number
  /** Starts under pm2 per side, alternating sidecar and bare process. */
  sidecarStartRounds: number
}

export const FULL: BenchSizes = {
  quick: false,
  agents: 10_000,
  stormRounds: 5,
  memoryRounds: 2,
  commandSamples: 3000,
  commandWarmup: 200,
  rpsRounds: 5,
  rpsSeconds: 8,
  rpsConnections: 10,
  restartRounds: 12,
  selfQueryRounds: 20,
  pm2Neighbours: 4,
  sidecarRssRounds: 3,
  sidecarStartRounds: 10,
}

export const QUICK: BenchSizes = {
  quick: true,
  agents: 1000,
  stormRounds: 1,
  memoryRounds: 1,
  commandSamples: 200,
  commandWarmup: 50,
  rpsRounds: 1,
  rpsSeconds: 2,
  rpsConnections: 10,
  restartRounds: 2,
  selfQueryRounds: 5,
  pm2Neighbours: 2,
  sidecarRssRounds: 1,
  sidecarStartRounds: 3,
}
