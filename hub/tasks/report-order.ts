/**
 * A sidecar's reports (accepted, finished, interrupted) are saved after the reconcile of the
 * identify they followed on the same connection, never beside it. The reconcile adopts the
 * task the identify names as active: an interruption of that task saved first was undone by
 * the adopt, which left the task `working` on an agent that no longer had it (and the agent
 * out of dispatch) until its timeout. One hub handles both in order by being synchronous.
 */
import type { AgentRecord, Peer } from '../agents/fleet.ts'

export class ReportOrder {
  /** Per connection, its identify's reconcile while under way. */
  private readonly reconciling = new WeakMap<Peer, Promise<void>>()

  /**
   * The reconcile of `peer`'s identify begins. Returns what to call when it is over, however it
   * ended: `then`, and the reports that waited for it.
   */
  begin(peer: Peer | null, then: () => void): () => void {
    if (!peer) return then
    let over!: () => void
    const pending = new Promise<void>((resolve) => (over = resolve))
    this.reconciling.set(peer, pending)
    return () => {
      if (this.reconciling.get(peer) === pending) this.reconciling.delete(peer)
      then()
      over()
    }
  }

  /**
   * Runs `save` of a report `rec`'s connection sent now, or once that connection's reconcile is
   * over (in the order the reports came); not at all if the agent is on another connection by
   * then: after a reconnect the sidecar reports anew.
   */
  after(rec: AgentRecord, save: () => void): void {
    const peer = rec.peer
    const pending = peer && this.reconciling.get(peer)
    if (!pending) return save()
    void pending.then(() => {
      if (rec.peer === peer) save()
    })
  }
}
