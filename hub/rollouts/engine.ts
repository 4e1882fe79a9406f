/**
 * Rolling restarts, the one rule book for one hub and a cluster alike: every agent in a rollout
 * restarts exactly once, in order, with never more than `max_unavailable` commanded and not yet
 * back; an agent offline at its turn is waited for up to `offlineWaitMs`; one that does not come
 * back (or cannot be commanded) fails the rollout and no further restart starts; a cancel starts
 * none either, while restarts already commanded finish. The state lives in a RolloutStore
 * (rollout-store.ts); each step is one operation under the rollout's lock, so a step done twice
 * (a nudge racing a tick, a new owner after a crash) finds the restart_id already given and
 * commands nothing twice.
 */
import type { Logger } from '../../shared/log.ts'
import type { RolloutCreated, RolloutRequest, RolloutView } from '../api/admin.ts'
import { rolloutView } from '../api/views.ts'
import { isPendingState, type RolloutStep, type RolloutStore } from './rollout-store.ts'

export interface RolloutEngineDeps {
  store: RolloutStore
  log: Logger
  newId: () => string
  /** How long an agent offline at its turn is waited for before the rollout fails. */
  offlineWaitMs: number
  /** The rollout changed here: the events stream hears it (and, in a cluster, every hub). */
  announce(rolloutId: string): Promise<void> | void
  /** Delivers a restart a step recorded for an agent on this hub (the hub's restart engine). */
  deliverRestart(restartId: string): Promise<void>
}

type Timer = ReturnType<typeof setTimeout>

/** A step that failed (its store could not save) is tried again this long after. */
const STEP_RETRY_MS = 1000

/** What one step did: whether the rollout moved, and how long to wait for an offline agent. */
interface StepOutcome {
  moved: boolean
  waitMs: number | null
}

export class RolloutEngine {
  /** One step at a time per rollout on this hub; a request meanwhile runs once after it. */
  private readonly stepping = new Map<string, { again: boolean; done: Promise<void> }>()
  /** Rollouts waiting for an agent offline at its turn: stepped again when it may be back. */
  private readonly waiting = new Map<string, Timer>()
  private closed = false

  constructor(private readonly d: RolloutEngineDeps) {}

  /** POST /api/admin/rollouts: the rollout, stored, and its first step. */
  async create(request: RolloutRequest): Promise<RolloutCreated> {
    const { store } = this.d
    const ids = request.agent_ids ?? await store.defaultAgents()
    const known = await store.knownAgents(ids)
    for (const id of ids) {
      const agent = known.get(id)
      if (!agent) return { ok: false, error: 'agent_not_found', agent_id: id }
      if (!agent.supervised) return { ok: false, error: 'not_supervised', agent_id: id }
    }
    const rolloutId = this.d.newId()
    await store.insert({ ...request, rollout_id: rolloutId, agent_ids: ids })
    this.d.log.info('rollout started', { rollout_id: rolloutId, agents: ids.length })
    await this.step(rolloutId)
    await this.d.announce(rolloutId)
    return { ok: true, rollout: (await this.view(rolloutId))! }
  }

  /** The Rollout view; null if unknown. */
  async view(rolloutId: string): Promise<RolloutView | null> {
    const record = await this.d.store.get(rolloutId)
    return record ? rolloutView(record) : null
  }

  /** No further restart starts (the next step finds it cancelled); the rollout as it is now. */
  async cancel(rolloutId: string): Promise<RolloutView | null> {
    const cancelled = await this.d.store.cancel(rolloutId).catch(async (err) => {
      // As a failed step: one hub keeps the cancel in memory, saved once the disk is back (503 meanwhile).
      await this.d.announce(rolloutId)
      throw err
    })
    if (cancelled) {
      this.stopWaiting(rolloutId)
      this.d.log.info('rollout cancelled', { rollout_id: rolloutId })
      await this.d.announce(rolloutId)
    }
    return this.view(rolloutId)
  }

  /** Steps every rollout this hub may step now (a cluster: on each sweep tick; one hub: at start). */
  async tick(): Promise<void> {
    const taken = await this.d.store.take()
    for (const { rollout_id, taken_from } of taken) {
      if (taken_from !== null) this.d.log.warn('rollout taken over', { rollout_id, from_hub: taken_from })
    }
    await Promise.all(taken.map(({ rollout_id }) => this.step(rollout_id)))
  }

  /** An agent became free (it may have come back): rollouts waiting for one step on. */
  agentAvailable(): void {
    for (const rolloutId of this.waiting.keys()) void this.step(rolloutId)
  }

  /** Steps the rollout now (after a create, or when one of its restarts moved). */
  step(rolloutId: string): Promise<void> {
    const running = this.stepping.get(rolloutId)
    if (running) {
      running.again = true
      return running.done
    }
    const entry = { again: false, done: Promise.resolve() }
    entry.done = (async () => {
      try {
        do {
          entry.again = false
          await this.stepOnce(rolloutId).catch((err) => {
            // Tried again (a step done twice commands nothing twice), so a store that failed
            // for a moment does not leave the rollout waiting for a trigger that already passed.
            this.d.log.warn('rollout step failed', { rollout_id: rolloutId, error: String(err) })
            this.waitFor(rolloutId, STEP_RETRY_MS)
            // One hub keeps a step whose save failed (saved once the disk is back): its view,
            // and healing's rule of no restart during a rollout, follow it now.
            return this.d.announce(rolloutId)
          })
        } while (entry.again && !this.closed)
      } finally {
        this.stepping.delete(rolloutId)
      }
    })()
    this.stepping.set(rolloutId, entry)
    return entry.done
  }

  close(): void {
    this.closed = true
    for (const timer of this.waiting.values()) clearTimeout(timer)
    this.waiting.clear()
  }

  private async stepOnce(rolloutId: string): Promise<void> {
    if (this.closed) return
    const stepped = await this.d.store.step(rolloutId, (step) => this.rules(step))
    for (const restartId of stepped?.deliver ?? []) await this.d.deliverRestart(restartId)
    const outcome = stepped?.result ?? { moved: false, waitMs: null }
    if (outcome.waitMs === null) this.stopWaiting(rolloutId)
    else this.waitFor(rolloutId, outcome.waitMs)
    if (outcome.moved) await this.d.announce(rolloutId)
  }

  /** The rules of one step, on the rollout as read under its lock. */
  private async rules(step: RolloutStep): Promise<StepOutcome> {
    const rollout = step.rollout
    const failed = rollout.agents.find((a) => a.restart_state === 'failed')
    if (failed) return this.finish(step, 'failed', `agent ${failed.agent_id} did not come back (${failed.restart_error})`)
    let unavailable = rollout.agents.filter((a) => isPendingState(a.restart_state)).length
    let moved = false
    for (const agent of rollout.agents) {
      if (unavailable >= rollout.max_unavailable) break
      if (agent.restart_id !== null || agent.error !== null) continue
      const result = await step.commandRestart(agent.agent_id, {
        restart_id: this.d.newId(), reason: rollout.reason, mode: rollout.mode, deadline_s: rollout.deadline_s,
        rollout_id: rollout.rollout_id,
      })
      if (!result.ok && result.error === 'agent_not_connected') {
        // Offline at its turn (a blip, its own restart, or moving between hubs): waited for, in
        // order, up to the restart timeout, counted in the store so a new owner waits no longer.
        // A disconnect of its own never counts as its restart.
        const waited = await step.markWaiting(agent.position)
        if (waited < this.d.offlineWaitMs) {
          if (moved) await step.touch()
          return { moved, waitMs: this.d.offlineWaitMs - waited }
        }
        await step.setAgentError(agent.position, 'agent_not_connected')
        return this.finish(step, 'failed', `agent ${agent.agent_id} was not connected at its turn`)
      }
      if (!result.ok) {
        await step.setAgentError(agent.position, result.error)
        return this.finish(step, 'failed', `agent ${agent.agent_id}: ${result.error}`)
      }
      await step.recordRestart(agent.position, result.restart_id)
      this.d.log.info('rollout restart commanded', { rollout_id: rollout.rollout_id, agent_id: agent.agent_id, restart_id: result.restart_id })
      moved = true
      if (result.pending) unavailable++
    }
    if ((await step.agents()).every((a) => a.restart_state === 'completed')) return this.finish(step, 'completed', null)
    if (moved) await step.touch()
    return { moved, waitMs: null }
  }

  private async finish(step: RolloutStep, state: 'completed' | 'failed', error: string | null): Promise<StepOutcome> {
    const moved = await step.finish(state, error)
    if (moved) this.d.log.info(`rollout ${state}`, { rollout_id: step.rollout.rollout_id, error })
    return { moved, waitMs: null }
  }

  /** Steps the rollout again once its offline agent has been waited for long enough. */
  private waitFor(rolloutId: string, ms: number): void {
    if (this.closed) return
    this.stopWaiting(rolloutId)
    this.waiting.set(rolloutId, setTimeout(() => {
      this.waiting.delete(rolloutId)
      void this.step(rolloutId)
    }, ms))
  }

  private stopWaiting(rolloutId: string): void {
    const timer = this.waiting.get(rolloutId)
    if (timer) clearTimeout(timer)
    this.waiting.delete(rolloutId)
  }
}
