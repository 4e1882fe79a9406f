/**
 * This hub's lease in the cluster, renewed every third of its length on the database's clock.
 * The hub acts for its agents only while the lease may still hold by its own reckoning. When a
 * renewal does not succeed within the lease, the hub stops acting (no dispatch, no admits, no
 * sweep) and then either keeps its agents' sockets or lets go of them (`onLost`: they identify
 * again, here or elsewhere), by the rule in docs/cluster.md ("When the database goes away"):
 * - the database refused it or said it is shutting down: it is down for every hub, nobody else
 *   can take the agents or act for them, so the hub keeps them;
 * - anything else (a timeout, a reset, an unreachable host) may be this hub cut off alone: it
 *   lets go, so its agents move to a hub that still reaches the database;
 * - back in touch, a renewal that finds the lease lapsed lets go only if another hub held its
 *   lease long enough meanwhile to act on this hub's agents (LeaseRenewal.others_may_have_acted).
 * A hub acts on other hubs' lapses only once it has held its own lease for SENIOR_LEASES leases
 * (`senior`), so that after an outage of the database every hub has had its chance to renew.
 */
import type { Logger } from '../../shared/log.ts'
import { isConnectionClosed, isDatabaseDown, type Sql } from '../pg/connect.ts'
import { disconnectHubAgents, renewLease } from '../pg/presence-rows.ts'

/** How many lease lengths a hub holds its lease before it acts on other hubs' lapsed leases. */
export const SENIOR_LEASES = 1.5

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
  private joined = false
  /** By the monotonic clock, since when the lease has held without a lapse. */
  private liveSince = Infinity
  /** What the hub does while its lease may have expired: null while it holds. */
  private adrift: 'holding' | 'let-go' | null = null
  /** Whether the failures since the last renewal that worked say the database is down for all. */
  private downForAll = false
  /** Renewals failed in a row. */
  private streak = 0
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

  /** Whether the hub may act on other hubs' lapsed leases (their agents' tasks and restarts). */
  get senior(): boolean {
    return this.valid && this.now() - this.liveSince >= this.seniorMs
  }

  private get seniorMs(): number {
    return this.opts.leaseMs * SENIOR_LEASES
  }

  /** For GET /health: failing while renewals fail or the lease may have expired. */
  get storage(): { failing_since: number | null; failed_saves: number } {
    const failingSince = this.failingSince ?? (this.joined && !this.valid ? Date.now() : null)
    return { failing_since: failingSince, failed_saves: this.failures }
  }

  onLost(listener: () => void): () => void {
    this.lostListeners.add(listener)
    return () => this.lostListeners.delete(listener)
  }

  private async renew(): Promise<void> {
    // Counted from before the request: the database set lease_until after this moment.
    const sentAt = this.now()
    const first = !this.joined
    // Rows an earlier process under this hub id left behind, or of agents this hub let go (their
    // releases could not be written), must not come back to life with the lease.
    const lettingGo = first || this.adrift === 'let-go'
    if (lettingGo) await disconnectHubAgents(this.opts.sql, this.opts.hubId)
    const renewal = await renewLease(this.opts.sql, this.opts.hubId, this.opts.leaseMs, this.opts.runtime, this.seniorMs)
    if (this.stopped) return
    // The hub let go while this renewal hung (the database away): those rows too.
    if (!lettingGo && this.adrift === 'let-go') await disconnectHubAgents(this.opts.sql, this.opts.hubId)
    if (renewal.lapsed) this.liveSince = sentAt
    if (renewal.lapsed && !first && renewal.others_may_have_acted) {
      this.opts.log.warn('cluster lease had lapsed while other hubs held theirs; letting go of agents', { hub_id: this.opts.hubId })
      this.validUntil = -Infinity
      this.lost()
      await disconnectHubAgents(this.opts.sql, this.opts.hubId)
    } else if (renewal.lapsed && !first) {
      this.opts.log.info('cluster lease taken again; no other hub acted meanwhile, agents kept', { hub_id: this.opts.hubId })
    }
    this.joined = true
    this.adrift = null
    this.validUntil = sentAt + this.opts.leaseMs
    this.armWatchdog()
  }

  private schedule(): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.renewing = this.renew().then(() => {
        this.failingSince = null
        this.downForAll = false
        this.streak = 0
      }, (err) => {
        this.failingSince ??= Date.now()
        this.failures++
        this.streak++
        // A connection that just closed says nothing either way (the server closes them as it stops).
        if (isDatabaseDown(err)) this.downForAll = true
        else if (!isConnectionClosed(err)) this.downForAll = false
        // One line when renewals start failing, then one a minute or so (every third of a lease).
        if (this.streak === 1 || this.streak % 180 === 0) {
          this.opts.log.warn('cluster lease renewal failed', { error: String(err), failures: this.failures })
        }
        if (this.adrift === 'holding' && !this.downForAll) this.letGo('the database no longer answers as down')
      }).finally(() => {
        this.renewing = null
        this.schedule()
      })
    }, this.nextRenewalInMs())
  }

  /**
   * A third of a lease after the last renewal, or sooner: half of what is left of the lease,
   * which runs from when a renewal was sent. A renewal that hung while the database was away
   * and then went through leaves little of its lease; waiting a full third let it run out
   * before the next renewal, and the hub let go of agents it had just admitted.
   */
  private nextRenewalInMs(): number {
    const third = Math.max(100, Math.floor(this.opts.leaseMs / 3))
    const left = this.validUntil - this.now()
    // Never sooner than 100 ms (or a third, if shorter): renewals failing fast near the end do not spin.
    return left > 0 ? Math.max(Math.min(third, 100), Math.min(third, Math.floor(left / 2))) : third
  }

  /**
   * Timers run on the event loop's cached clock, which can lag `now()`: a watchdog may fire a
   * few milliseconds before the lease runs out by `now()`. It then arms itself again for the
   * rest, or the hub would act on a lease no renewal ever extends (seen in lease-split).
   */
  private armWatchdog(): void {
    if (this.watchdog) clearTimeout(this.watchdog)
    this.watchdog = setTimeout(() => {
      this.watchdog = null
      if (this.stopped) return
      if (this.valid) return this.armWatchdog()
      this.validUntil = -Infinity
      if (this.downForAll) {
        this.adrift = 'holding'
        this.opts.log.warn('cluster lease may have expired; the database is down for every hub: keeping agents, acting for none', { hub_id: this.opts.hubId })
      } else {
        this.letGo('the database cannot be reached from this hub')
      }
    }, Math.max(0, this.validUntil - this.now()) + 1)
  }

  private letGo(why: string): void {
    this.adrift = 'let-go'
    this.opts.log.error('cluster lease may have expired; letting go of agents', { hub_id: this.opts.hubId, why })
    this.lost()
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

  /**
   * Stops renewing (the entry releases the lease itself on a clean stop). A renewal in flight is
   * awaited for at most one lease: while the database cannot be reached, postgres.js keeps a
   * query waiting for a connection for good, and ending the pool is the caller's next step.
   */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    if (this.watchdog) clearTimeout(this.watchdog)
    this.timer = null
    this.watchdog = null
    let bound: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<void>((resolve) => {
      bound = setTimeout(resolve, this.opts.leaseMs)
    })
    await Promise.race([this.renewing, late]).finally(() => clearTimeout(bound))
  }
}
