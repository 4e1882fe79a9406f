/**
 * One hub's RestartStore: each agent's latest restart in memory, the same objects the Fleet
 * shows (so a rollout following a restart reads its state as it moves), saved to the data dir
 * with the agents (hub/store/fleet-saver.ts: what changed appended to the fleet state's journal;
 * an admin restart is answered once saved, hub/store/saved-answers.ts, a restart's later steps
 * within SAVE_SPACING_MS). Its operations complete at once; the
 * `...Now` forms are for the callers that are synchronous on one hub (Fleet.commandRestart).
 */
import type { Clock } from '../../shared/time.ts'
import { isPending, judgeRestart, newRestart, type CommandRestart, type Restart, type RestartState } from './restart.ts'
import type { RestartRequestOutcome, RestartStore } from './restart-store.ts'
import type { AgentRecord } from './agent-record.ts'

export interface MemoryRestartStoreOptions {
  clock: Clock
  /** The agent as the Fleet knows it now. */
  agent(agentId: string): AgentRecord | undefined
}

export class MemoryRestartStore implements RestartStore {
  private readonly latest = new Map<string, Restart>()

  constructor(private readonly o: MemoryRestartStoreOptions) {}

  requestNow(agentId: string, cmd: CommandRestart & { restart_id: string }): RestartRequestOutcome {
    const rec = this.o.agent(agentId)
    const pending = this.latest.get(agentId) ?? null
    const verdict = judgeRestart({ live: rec?.peer != null, supervised: rec?.supervised ?? false, busy: rec?.task_id != null, pending }, cmd.mode)
    if (verdict.kind === 'refused') return { ok: false, error: verdict.error }
    if (verdict.kind === 'pending') return { ok: true, restart: verdict.restart, already_pending: true, here: true }
    const restart = newRestart(cmd, this.o.clock.now(), cmd.restart_id, { pm2_info: rec!.pm2_info, instance_id: rec!.instance_id, busy: rec!.task_id !== null })
    this.latest.set(agentId, restart)
    return { ok: true, restart, already_pending: false, here: true }
  }

  async request(agentId: string, cmd: CommandRestart & { restart_id: string }): Promise<RestartRequestOutcome> {
    return this.requestNow(agentId, cmd)
  }

  pendingNow(agentId: string): Restart | null {
    const restart = this.latest.get(agentId) ?? null
    return isPending(restart) ? restart : null
  }

  async pending(agentId: string): Promise<Restart | null> {
    return this.pendingNow(agentId)
  }

  async get(restartId: string): Promise<(Restart & { agent_id: string }) | null> {
    for (const [agentId, restart] of this.latest) if (restart.restart_id === restartId) return { ...restart, agent_id: agentId }
    return null
  }

  async move(agentId: string, restartId: string, state: RestartState, error: string | null): Promise<boolean> {
    const restart = this.latest.get(agentId)
    if (!restart || restart.restart_id !== restartId) return false
    // The engine's object is this one (it moves it first, and only from a pending state).
    restart.state = state
    restart.error = error
    return true
  }

  /** At start: the restarts a previous hub saved with its agents (hub/state/). */
  restore(agentId: string, restart: Restart): void {
    this.latest.set(agentId, restart)
  }

  /** The Fleet forgot the agent (offline past its TTL, nothing pending): so does the store. */
  forget(agentId: string): void {
    this.latest.delete(agentId)
  }
}
