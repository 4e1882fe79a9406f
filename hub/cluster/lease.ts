/**
 * This hub's lease in the cluster, renewed every third of its length on the database's clock.
 * The hub acts for its agents only while the lease may still hold by its own reckoning: a
 * renewal that does not succeed within the lease (database gone, network split) or one that
 * finds the lease already lapsed (other hubs may have counted its agents offline and acted)
 * calls `onLost`, and the hub lets go of its agents so they identify again, here or elsewhere.
 */
import type { Logger } from '../../shared/log.ts'
import type { Sql } from '../pg/connect.ts'
import { disconnectHubAgents, renewLease } from '../pg/presence.ts'

export interface LeaseOptions {
  sql: Sql
  hubId: string
  leaseMs: number
  runtime: string
  log: Logger
  /** Monotonic milliseconds (never the wall clock, which may jump). */
  now?: () => number
}

export class HubLease {
  private timer: ReturnType<typeof setTimeout> | null = null
  /** Fires when the lease runs out without a renewal, even while a renewal hangs. */
  private watchdog: ReturnType<typeof setTimeout> | null = null
  /** By this hub's monotonic clock, the latest moment its lease surely still holds. */
  private validUntil = -Infinity
  private renewing: Promise<void> | null = null
  private stopped = false
  private readonly lostListeners = new Set<() => void>()
  private readonly now: () => number
  /** Epoch ms of the first renewal that failed since the last that worked; null while they work. */
  failingSince: number | null = null
  failures = 0

  constructor(private readonly opts: LeaseOptions) {
    this.now = opts.now ?? (() => performance.now())
  }

  /** Takes the lease; throws if the database cannot be reached. */
  async start(): Promise<void> {
    await this.renew()
    this.schedule()
  }

  /** Whether the hub may act for its agents now. */
  get valid(): boolean {
    return !this.stopped && this.now() < this.validUntil
  }

  onLost(listener: () => void): () => void {
    this.lostListeners.add(listener)
    return () => this.lostListeners.delete(listener)
  }

  private async renew(): Promise<void> {
    // Counted from before the request: the database set lease_until after this moment.
    const sentAt = this.now()
    const wasValid = this.valid
    // Holding no valid lease, this hub holds no agents: rows it left behind must not come back to life.
    if (!wasValid) await disconnectHubAgents(this.opts.sql, this.opts.hubId)
    const { lapsed } = await renewLease(this.opts.sql, this.opts.hubId, this.opts.leaseMs, this.opts.runtime)
    if (this.stopped) return
    if (lapsed && wasValid) {
      // Other hubs may have counted this hub's agents offline and acted on it.
      this.opts.log.warn('cluster lease had lapsed; letting go of agents', { hub_id: this.opts.hubId })
      this.validUntil = -Infinity
      this.lost()
      await disconnectHubAgents(this.opts.sql, this.opts.hubId)
    }
    this.validUntil = sentAt + this.opts.leaseMs
    this.armWatchdog()
  }

  private schedule(): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.renewing = this.renew().then(() => {
        this.failingSince = null
      }, (err) => {
        this.failingSince ??= Date.now()
        this.failures++
        this.opts.log.warn('cluster lease renewal failed', { error: String(err) })
      }).finally(() => {
        this.renewing = null
        this.schedule()
      })
    }, Math.max(100, Math.floor(this.opts.leaseMs / 3)))
  }

  private armWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog)
    this.watchdog = setTimeout(() => {
      this.watchdog = null
      if (this.stopped || this.valid) return
      this.opts.log.error('cluster lease may have expired; letting go of agents', { hub_id: this.opts.hubId })
      this.validUntil = -Infinity
      this.lost()
    }, Math.max(0, this.validUntil - this.now()) + 1)
  }

  private lost(): void {
    for (const listener of this.lostListeners) {
      try {
        listener()
      } catch (err) {
        this.opts.log.error('lease-lost listener failed', { error: String(err) })
      }
    }
  }

  /** Stops renewing (the entry releases the lease itself on a clean stop). */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    if (this.watchdog) clearTimeout(this.watchdog)
    this.timer = null
    this.watchdog = null
    await this.renewing
  }
}
