export const SECOND = 1000
export const MINUTE = 60 * SECOND

/** The clock every component reads, so tests can pass a fake one. */
export interface Clock {
  now(): number
}

export const systemClock: Clock = { now: () => Date.now() }
