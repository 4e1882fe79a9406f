/**
 * The task engine's saves of a sidecar's reports (hub/tasks/task-engine.ts), tried again
 * while the store cannot be reached: a report is sent once per connection, so its save must not
 * be dropped because the database was away for a moment.
 */
import type { Logger } from '../../shared/log.ts'
import type { AgentRecord } from '../agents/fleet.ts'

const RETRY_MS = 1000
/** The longest wait between two tries of one save (doubling from RETRY_MS). */
const MAX_RETRY_MS = 4000
/** One try of a save that has not settled by then is taken as failed (and tried again). */
const ATTEMPT_DEADLINE_MS = 10_000

export class SaveRetries {
  /** The saves being retried, by what and task (or agent): one loop each, however often the sidecar resends. */
  private readonly retrying = new Set<string>()
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private closed = false

  constructor(private readonly log: Logger) {}

  /**
   * Runs `work` now and, while the database cannot be reached, again after 1 s, 2 s, then every
   * 4 s, for as long as the agent is on the same connection (after a reconnect the sidecar
   * reports anew). One loop per `what`: a resent result while its save is being retried joins it.
   */
  run(what: string, rec: AgentRecord, work: () => Promise<void>, finally_?: () => void): void {
    const key = `${rec.agent_id} ${what}`
    if (this.retrying.has(key)) return
    this.retrying.add(key)
    const peer = rec.peer
    let failures = 0
    const end = () => {
      this.retrying.delete(key)
      finally_?.()
    }
    const attempt = () => {
      // An attempt that hangs (a connection that never comes back) counts as failed, so the loop,
      // which stands for every resend of the same outcome, never waits on it for good.
      let timer: ReturnType<typeof setTimeout> | undefined
      const deadline = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${ATTEMPT_DEADLINE_MS} ms`)), ATTEMPT_DEADLINE_MS)
      })
      Promise.race([work(), deadline]).finally(() => clearTimeout(timer)).then(end, (err) => {
        if (this.closed || rec.peer !== peer || peer === null) return end()
        failures++
        if (failures === 1 || failures % 15 === 0) {
          this.log.warn(`task ${what.split(' ')[0]} not saved; retrying`, { agent_id: rec.agent_id, error: String(err), failures })
        }
        const timer = setTimeout(() => {
          this.timers.delete(timer)
          attempt()
        }, Math.min(RETRY_MS * 2 ** (failures - 1), MAX_RETRY_MS))
        this.timers.add(timer)
      })
    }
    attempt()
  }

  close(): void {
    this.closed = true
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
  }
}
