/**
 * What protects the hub from any one client: a cap on open sockets and a frame budget per
 * socket. Portable: plain arithmetic on the clock the hub is given. Its close codes are in
 * shared/protocol.ts.
 */

export type FrameVerdict = 'ok' | 'limited' | 'abusive'

/**
 * A token bucket of `perSecond` frames, refilled continuously at `perSecond` per second, so a
 * socket may send that many frames at once after a quiet second and that many per second on
 * average. A frame that finds the bucket empty is `limited` (refused, the socket lives). A
 * socket that has had `perSecond` frames refused since its bucket was last full is `abusive`.
 */
export class FrameBudget {
  private tokens: number
  private refused = 0

  constructor(private readonly perSecond: number, private last: number) {
    this.tokens = perSecond
  }

  take(now: number): FrameVerdict {
    const elapsed = Math.max(0, now - this.last)
    this.last = now
    this.tokens = Math.min(this.perSecond, this.tokens + (elapsed * this.perSecond) / 1000)
    // A full bucket means the socket slowed down for a whole second: earlier refusals are forgiven.
    if (this.tokens === this.perSecond) this.refused = 0
    if (this.tokens >= 1) {
      this.tokens -= 1
      return 'ok'
    }
    this.refused++
    return this.refused >= this.perSecond ? 'abusive' : 'limited'
  }
}
