/**
 * Restarts, the one rule book for one hub and a cluster alike, over a RestartStore
 * (restart-store.ts): a request is judged and recorded by the store (one pending restart per
 * agent; graceful waits for a running task, `deferred`; force does not), then delivered by the
 * hub holding the agent's socket. That hub moves it on as the agent answers: the sidecar says
 * it is restarting, the socket closes (`restarting`, failed with `timeout` if the agent is not
 * back within `timeoutMs`), a task starts or settles (graceful: `deferred` and back to
 * `commanded`), and an identify ends it, `completed` when a new process is back, else sent
 * again under the same restart_id. Commanded and unanswered within `timeoutMs`: `no_response`.
 *
 * The hub's own view of a restart (the Fleet's record) moves first, so the rules see it at once;
 * the store's moves follow, per agent in order, and each change is published once it is kept.
 * An identify reads the agent's pending restart from the store (in a cluster it may have been
 * commanded on another hub); what the agent does meanwhile is handled after that read.
 */
import type { Clock } from '../../shared/time.ts'
import type { Logger } from '../../shared/log.ts'
import type { AgentBus } from '../sockets/bus.ts'
import type { ChangeFeed } from '../events/changes.ts'
import type { AgentRecord } from './agent-record.ts'
import { isPending, restartedSince, restartMessage, type CommandRestart, type Restart, type RestartState } from './restart.ts'
import type { RestartRequestOutcome, RestartStore } from './restart-store.ts'
import type { FleetRestarts } from './fleet.ts'

export type CommandResult =
  | { ok: true; restart: Restart; already_pending: boolean }
  | { ok: false; error: 'agent_not_connected' | 'not_supervised' }

export interface RestartEngineDeps {
  /** A store whose `requestNow` answers at once (one hub's memory) also serves commandNow. */
  store: RestartStore & {
    requestNow?(agentId: string, cmd: CommandRestart & { restart_id: string }): RestartRequestOutcome
    /** One hub's: a restart a previous hub saved, and an agent forgotten. */
    restore?(agentId: string, restart: Restart): void
    forget?(agentId: string): void
    /** pending(), answered at once (one hub's memory): an identify settles without waiting. */
    pendingNow?(agentId: string): Restart | null
  }
  fleet: {
    get(agentId: string): AgentRecord | undefined
    /** Shows `restart` as the agent's (the same object from then on) and recomputes whether it is free. */
    showRestart(agentId: string, restart: Restart): void
  }
  bus: Pick<AgentBus, 'sendToAgent'>
  changes: ChangeFeed
  clock: Clock
  log: Logger
  newId: () => string
  timeoutMs: number
  /**
   * Whether this hub holds the agent in the store's records (a cluster: its claim on the agent's
   * row). Only such a hub delivers the agent's restarts and keeps their moves; an agent gone from
   * every hub is the cluster sweep's (its restart fails on database time, counted once). Default:
   * true (one hub holds every agent it knows).
   */
  holds?(agentId: string): boolean
  /** A restart's move was kept (a cluster nudges the rollout's owner and healing's decider). */
  moved?(restart: Restart): void
}

type Timer = ReturnType<typeof setTimeout>

export class RestartEngine {
  /** Each agent's restart deadline (no_response or timeout) on this hub. */
  private readonly timers = new Map<string, Timer>()
  /** Agents whose identify waits for the store's read: their handlers run after it, in order. */
  private readonly reading = new Map<string, Promise<void>>()
  /** Each agent's moves on their way to the store, so they are kept in the order they were made. */
  private readonly keeping = new Map<string, Promise<void>>()
  private closed = false

  constructor(private readonly d: RestartEngineDeps) {}

  /** Commands a restart (admin, rollouts, healing): recorded, then delivered where the agent is. */
  async command(agentId: string, cmd: CommandRestart): Promise<CommandResult> {
    return this.commanded(agentId, await this.d.store.request(agentId, { ...cmd, restart_id: cmd.restart_id ?? this.d.newId() }))
  }

  /** command() for a store that answers at once (one hub), for callers that cannot wait. */
  commandNow(agentId: string, cmd: CommandRestart): CommandResult {
    if (!this.d.store.requestNow) throw new Error('commandNow needs a store that answers at once (one hub)')
    return this.commanded(agentId, this.d.store.requestNow(agentId, { ...cmd, restart_id: cmd.restart_id ?? this.d.newId() }))
  }

  /** A restart recorded by any hub (a cluster's bus, its rollouts and healing, a catch-up): delivered if the agent is here. */
  async deliver(restartId: string): Promise<void> {
    const found = await this.d.store.get(restartId)
    if (!found || !isPending(found) || !this.holds(found.agent_id)) return
    if (this.d.fleet.get(found.agent_id)?.restart?.restart_id === restartId) return
    const { agent_id, ...restart } = found
    this.send(agent_id, restart)
  }

  /**
   * The agent identified on this hub: its pending restart ends, or is sent again. `known`: the
   * pending restart as the store had it when the agent joined (a cluster reads it with the
   * agent's row); else it is read now.
   */
  identified(rec: AgentRecord, known?: Restart | null): void {
    const { store } = this.d
    if (known !== undefined) return this.inOrder(rec.agent_id, () => this.settle(rec, known))
    if (store.pendingNow) return this.inOrder(rec.agent_id, () => this.settle(rec, store.pendingNow!(rec.agent_id)))
    const read = () => store.pending(rec.agent_id).then((pending) => this.settle(rec, pending), (err) => {
      this.d.log.warn('could not read the agent\'s pending restart', { agent_id: rec.agent_id, error: String(err) })
    })
    const before = this.reading.get(rec.agent_id)
    const after = before ? before.then(read) : read()
    this.reading.set(rec.agent_id, after)
    void after.finally(() => {
      if (this.reading.get(rec.agent_id) === after) this.reading.delete(rec.agent_id)
    })
  }

  private settle(rec: AgentRecord, pending: Restart | null): void {
    if (this.d.fleet.get(rec.agent_id) !== rec) return
    if (!pending) {
      if (isPending(rec.restart)) void this.refresh(rec.agent_id, rec.restart)
      return
    }
    const shown = rec.restart?.restart_id === pending.restart_id && isPending(rec.restart) ? rec.restart : pending
    this.d.fleet.showRestart(rec.agent_id, shown)
    if (restartedSince(shown, rec)) return this.move(rec.agent_id, shown, 'completed')
    // The same process is back after a dropped connection: the command may have been lost
    // with it, so it is sent again under the same restart_id (the sidecar ignores repeats).
    this.move(rec.agent_id, shown, 'commanded')
    this.d.bus.sendToAgent(rec.agent_id, restartMessage(shown))
  }

  /** The agent's socket closed: a pending restart waits for it to come back, up to timeoutMs. */
  disconnected(rec: AgentRecord): void {
    this.inOrder(rec.agent_id, () => {
      const restart = rec.restart
      if (!isPending(restart)) return
      if (restart.state !== 'restarting') this.move(rec.agent_id, restart, 'restarting')
      this.arm(rec.agent_id, restart, 'timeout')
    })
  }

  /** The sidecar said it is about to exit for its restart. */
  restarting(rec: AgentRecord, restartId: string | undefined): void {
    this.inOrder(rec.agent_id, () => {
      const restart = rec.restart
      if (!isPending(restart) || (restartId !== undefined && restartId !== restart.restart_id)) return
      if (restart.state !== 'restarting') this.move(rec.agent_id, restart, 'restarting')
    })
  }

  /** The agent took a task while a graceful restart waits: shown as deferred. */
  taskStarted(rec: AgentRecord): void {
    this.inOrder(rec.agent_id, () => {
      const restart = rec.restart
      if (restart?.state === 'commanded' && restart.mode === 'graceful') this.move(rec.agent_id, restart, 'deferred')
    })
  }

  /** The agent's task settled: a deferred restart goes ahead. */
  released(rec: AgentRecord): void {
    this.inOrder(rec.agent_id, () => {
      const restart = rec.restart
      if (restart?.state === 'deferred') this.move(rec.agent_id, restart, 'commanded')
    })
  }

  /** Whether a task starting or settling may move a restart of the agent: one pending, or an identify's read on its way. */
  watches(rec: AgentRecord): boolean {
    return isPending(rec.restart) || this.reading.has(rec.agent_id)
  }

  /**
   * One hub, at start: a restart a previous hub saved still pending, waited for as after any
   * disconnect (`restarting`, failed with `timeout` if the agent is not back in time).
   */
  restored(agentId: string, restart: Restart): void {
    this.d.store.restore?.(agentId, restart)
    if (!isPending(restart)) return
    restart.state = 'restarting'
    this.arm(agentId, restart, 'timeout')
  }

  /** The agent is gone from the Fleet (nothing pending): its timer goes too. */
  forgotten(agentId: string): void {
    this.d.store.forget?.(agentId)
    this.clear(agentId)
  }

  close(): void {
    this.closed = true
    for (const timer of this.timers.values()) clearTimeout(timer)
    this.timers.clear()
  }

  private holds(agentId: string): boolean {
    return this.d.holds ? this.d.holds(agentId) : true
  }

  private commanded(agentId: string, outcome: RestartRequestOutcome): CommandResult {
    if (!outcome.ok) return outcome
    if (!outcome.already_pending && outcome.here) this.send(agentId, outcome.restart)
    return { ok: true, restart: outcome.restart, already_pending: outcome.already_pending }
  }

  /** A new restart of an agent here: shown, sent, and (commanded) given until timeoutMs to be obeyed. */
  private send(agentId: string, restart: Restart): void {
    this.d.fleet.showRestart(agentId, restart)
    this.d.bus.sendToAgent(agentId, restartMessage(restart))
    this.clear(agentId)
    // A sidecar that neither restarts nor defers within the timeout has not obeyed.
    if (restart.state === 'commanded') this.arm(agentId, restart, 'no_response')
    this.d.log.info('restart commanded', { agent_id: agentId, restart_id: restart.restart_id, mode: restart.mode })
    this.publish(agentId, restart)
  }

  /** Moves the hub's view now (timers too); the store keeps it next, after the agent's earlier moves. */
  private move(agentId: string, restart: Restart, state: RestartState, error: string | null = null): void {
    restart.state = state
    restart.updated_at = this.d.clock.now()
    restart.error = error
    this.clear(agentId)
    if (state === 'commanded') this.arm(agentId, restart, 'no_response')
    if (state === 'completed' || state === 'failed') this.d.log.info(`restart ${state}`, { agent_id: agentId, restart_id: restart.restart_id, error })
    this.d.fleet.showRestart(agentId, restart)
    if (!this.holds(agentId)) return this.publish(agentId, restart)
    const keep = async () => {
      if (await this.d.store.move(agentId, restart.restart_id, state, error)) {
        this.publish(agentId, restart)
        this.d.moved?.(restart)
      } else {
        // Over already elsewhere (another hub settled it, or a sweep failed it): show what was kept.
        await this.refresh(agentId, restart)
      }
    }
    const before = this.keeping.get(agentId)
    const kept: Promise<void> = (before ? before.then(keep) : keep()).catch((err) => {
      this.d.log.warn('restart move not kept', { agent_id: agentId, restart_id: restart.restart_id, state, error: String(err) })
    })
    this.keeping.set(agentId, kept)
    void kept.finally(() => {
      if (this.keeping.get(agentId) === kept) this.keeping.delete(agentId)
    })
  }

  /** The hub's view of a restart as the store has it (a cluster's other hubs may have moved it). */
  private async refresh(agentId: string, restart: Restart): Promise<void> {
    const stored = await this.d.store.get(restart.restart_id)
    if (stored) Object.assign(restart, { state: stored.state, error: stored.error, updated_at: stored.updated_at })
    if (!isPending(restart)) this.clear(agentId)
    this.d.fleet.showRestart(agentId, restart)
  }

  private arm(agentId: string, restart: Restart, error: string): void {
    this.clear(agentId)
    if (this.closed) return
    this.timers.set(agentId, setTimeout(() => {
      this.timers.delete(agentId)
      this.inOrder(agentId, () => {
        const rec = this.d.fleet.get(agentId)
        if (rec?.restart === restart && isPending(restart)) this.move(agentId, restart, 'failed', error)
      })
    }, this.d.timeoutMs))
  }

  private clear(agentId: string): void {
    const timer = this.timers.get(agentId)
    if (timer) clearTimeout(timer)
    this.timers.delete(agentId)
  }

  private publish(agentId: string, restart: Restart): void {
    this.d.changes.publish({ type: 'agent', agent_id: agentId, restart_id: restart.restart_id })
  }

  /** Runs `op` now, or after the store's read for the agent's identify when one is on its way. */
  private inOrder(agentId: string, op: () => void): void {
    const reading = this.reading.get(agentId)
    if (!reading) return op()
    const after = reading.then(op).catch((err) => this.d.log.warn('restart handler failed', { agent_id: agentId, error: String(err) }))
    this.reading.set(agentId, after)
    void after.finally(() => {
      if (this.reading.get(agentId) === after) this.reading.delete(agentId)
    })
  }
}

/** The FleetRestarts of an engine built after the Fleet (createHub builds the Fleet first). */
export function forwardRestarts(engine: () => RestartEngine): FleetRestarts {
  return {
    identified: (rec, pending) => engine().identified(rec, pending),
    disconnected: (rec) => engine().disconnected(rec),
    restarting: (rec, restartId) => engine().restarting(rec, restartId),
    taskStarted: (rec) => engine().taskStarted(rec),
    released: (rec) => engine().released(rec),
    watches: (rec) => engine().watches(rec),
    commandNow: (agentId, cmd) => engine().commandNow(agentId, cmd),
    restored: (agentId, restart) => engine().restored(agentId, restart),
    forgotten: (agentId) => engine().forgotten(agentId),
  }
}
