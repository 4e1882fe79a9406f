/**
 * The state of the panels beside the agents table, and its one owner: the recent tasks (and
 * which status the list shows), the rollouts since the page opened, and the healing history.
 * Each is bounded, changed only through the functions below, and drawn at most once per
 * animation frame.
 */
import type { HealingAction, Rollout, Task } from '../../../shared/api-schemas.ts'
import { $ } from './dom.ts'
import { renderHealing, renderRollout, renderTasks } from './panels-render.ts'

const MAX_TASKS = 100
const MAX_ROLLOUTS = 20
const MAX_HEALING = 200

/** Oldest first: a key seen again moves to the end. */
const tasks = new Map<string, Task>()
const rollouts = new Map<string, Rollout>()
/** Newest first, as the hub answers. */
let healing: HealingAction[] = []
let taskFilter = ''
let frame = 0

export function schedulePanels(): void {
  if (!frame) frame = requestAnimationFrame(renderPanels)
}

function renderPanels(): void {
  frame = 0
  const now = Date.now()
  const shownTasks = Array.from(tasks.values()).filter((t) => !taskFilter || t.status === taskFilter)
  renderTasks($('tasks-body'), shownTasks, now)
  $('tasks-empty').hidden = shownTasks.length > 0
  const items = Array.from(rollouts.values()).sort((a, b) => b.created_at - a.created_at)
  $('rollouts').replaceChildren(...items.map(renderRollout))
  $('rollouts-empty').hidden = items.length > 0
  renderHealing($('healing-body'), healing, now)
  $('healing-empty').hidden = healing.length > 0
}

function keepRecent<T>(map: Map<string, T>, key: string, value: T, max: number): void {
  map.delete(key)
  map.set(key, value)
  while (map.size > max) map.delete(map.keys().next().value!)
  schedulePanels()
}

export const taskSeen = (t: Task): void => keepRecent(tasks, t.task_id, t, MAX_TASKS)
export const knownTask = (id: string): Task | undefined => tasks.get(id)

/** The newest tasks (newest first, as the hub answers) replace those the page had. */
export function replaceTasks(newestFirst: readonly Task[]): void {
  tasks.clear()
  for (const t of newestFirst.slice().reverse()) tasks.set(t.task_id, t)
  schedulePanels()
}

export const shownTaskStatus = (): string => taskFilter
export function showTaskStatus(status: string): void {
  taskFilter = status
  schedulePanels()
}

export const rolloutSeen = (r: Rollout): void => keepRecent(rollouts, r.rollout_id, r, MAX_ROLLOUTS)
export const runningRollouts = (): string[] => Array.from(rollouts.values()).filter((r) => r.state === 'running').map((r) => r.rollout_id)

export function healingSeen(h: HealingAction): void {
  healing = [h, ...healing.filter((x) => x.action_id !== h.action_id)].slice(0, MAX_HEALING)
  $('healing').hidden = false
  schedulePanels()
}

export function replaceHealing(newestFirst: readonly HealingAction[]): void {
  healing = newestFirst.slice(0, MAX_HEALING)
  schedulePanels()
}

/** Sign-out: nothing of the session stays on the page. */
export function clearPanels(): void {
  tasks.clear()
  rollouts.clear()
  healing = []
  schedulePanels()
}
