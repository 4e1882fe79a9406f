/**
 * Refusals (a refused admin request, a refused identify) logged at most once per peer per
 * interval (for each kind of refusal): a client retrying a bad token in a loop would otherwise write one line per try.
 * The next line for that peer says how many were left out meanwhile (`suppressed`).
 * Portable: Web APIs only.
 */
import type { LogFields, Logger } from '../../shared/log.ts'
import type { Clock } from '../../shared/time.ts'

export interface RefusalLogOptions {
  log: Logger
  clock: Clock
  /** One line per peer per this. Default 10 s. */
  intervalMs?: number
  /** Peers remembered; past it the one logged longest ago is forgotten. Default 10 000. */
  maxPeers?: number
}

export const REFUSAL_LOG_DEFAULTS = { intervalMs: 10_000, maxPeers: 10_000 } as const

interface PeerWindow {
  loggedAt: number
  suppressed: number
}

export class RefusalLog {
  readonly #log: Logger
  readonly #clock: Clock
  readonly #intervalMs: number
  readonly #maxPeers: number
  /** In the order of their last logged line: the first is the one to forget. */
  readonly #peers = new Map<string, PeerWindow>()

  constructor(opts: RefusalLogOptions) {
    this.#log = opts.log
    this.#clock = opts.clock
    this.#intervalMs = opts.intervalMs ?? REFUSAL_LOG_DEFAULTS.intervalMs
    this.#maxPeers = opts.maxPeers ?? REFUSAL_LOG_DEFAULTS.maxPeers
  }

  /** Logs `msg` (warn) with `fields`, unless `fields.peer` had a line within the interval. */
  warn(msg: string, fields: LogFields & { peer: string | null }): void {
    // Per kind of refusal too: a peer's failed identifies do not hide its refused admin requests.
    const key = `${msg}\u0000${peerKey(fields.peer)}`
    const now = this.#clock.now()
    const window = this.#peers.get(key)
    if (window && now - window.loggedAt < this.#intervalMs) {
      window.suppressed++
      return
    }
    this.#log.warn(msg, { ...fields, suppressed: window?.suppressed ?? 0 })
    this.#peers.delete(key)
    this.#peers.set(key, { loggedAt: now, suppressed: 0 })
    if (this.#peers.size > this.#maxPeers) this.#peers.delete(this.#peers.keys().next().value as string)
  }

  /** Peers remembered now (for tests). */
  get size(): number {
    return this.#peers.size
  }
}

/**
 * A peer is its address without the port: each new connection from one client has a port of
 * its own. Both runtimes give `<address>:<port>` (IPv6 unbracketed), so the port is the last part.
 */
export function peerKey(peer: string | null): string {
  if (peer === null) return ''
  return peer.replace(/:\d+$/, '')
}
