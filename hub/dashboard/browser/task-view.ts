/**
 * The task list's status filter (its first page read from GET /api/admin/tasks, kept live by the
 * events stream), and the task view: the task, its output followed live (GET
 * .../output?follow=1, read with fetch like the events stream), and a Cancel button behind a
 * confirmation.
 */
import type { Task, TaskList } from '../../../shared/api-schemas.ts'
import { $, closestTo, el, setText, statusPill } from './dom.ts'
import { formatTime, shortId } from './format.ts'
import { api, errorText, ignoreUnauthorized, token } from './session.ts'
import { knownTask, replaceTasks, showTaskStatus, shownTaskStatus, taskSeen } from './side-panels.ts'
import { createSseParser } from './sse-parser.ts'
import { confirmAction, toast } from './ui.ts'

const FINAL_STATUSES: readonly string[] = ['completed', 'failed', 'cancelled']
/** Output shown in the task view, at most: what the hub keeps (1 MiB) and a little more. */
const MAX_OUTPUT_CHARS = 1_200_000

/** The task the view shows and how to stop following its output. */
let taskView: { id: string; controller: AbortController } | null = null

/** The newest tasks (of the chosen status), replacing those the page had. */
export async function loadTasks(): Promise<void> {
  const status = shownTaskStatus()
  const res = await api<TaskList | null>('GET', `/api/admin/tasks?limit=100${status ? `&status=${encodeURIComponent(status)}` : ''}`)
  if (res.status !== 200 || !res.body || !Array.isArray(res.body.tasks)) return
  replaceTasks(res.body.tasks)
}

function fillTaskView(t: Task): void {
  setText($('task-view-title'), `Task ${t.task_id}`)
  const facts = $('task-facts')
  const rows: [string, string][] = [
    ['Status', t.status], ['Agent', t.agent_id || '—'], ['Attempts', String(t.attempts)],
    ['Labels', t.labels && t.labels.length ? t.labels.join(', ') : '—'],
    ['Retries', t.retries ? `${t.retried} of ${t.retries}` : '—'],
    ['Updated', formatTime(t.updated_at)],
  ]
  if (t.error) rows.push(['Error', String(t.error).slice(-2000)])
  if (t.status === 'completed') rows.push(['Result', String(JSON.stringify(t.result)).slice(0, 2000)])
  facts.replaceChildren(...rows.flatMap(([term, value]) => [el('dt', '', term), el('dd', term === 'Status' ? '' : 'mono', value)]))
  facts.children[1].replaceChildren(statusPill(t.status))
  $('task-cancel').hidden = FINAL_STATUSES.includes(t.status)
  $('task-cancel').dataset.task = t.task_id
}

function appendOutput(text: string): void {
  const pre = $('task-output')
  let now = pre.textContent + text
  if (now.length > MAX_OUTPUT_CHARS) now = now.slice(now.length - MAX_OUTPUT_CHARS)
  pre.textContent = now
  pre.scrollTop = pre.scrollHeight
}

/** Opens the task view and follows the task's output until it ends or the view closes. */
function openTask(id: string): void {
  closeTaskView()
  const controller = new AbortController()
  taskView = { id, controller }
  $('task-output').textContent = ''
  setText($('task-output-state'), 'Connecting…')
  const known = knownTask(id)
  if (known) fillTaskView(known)
  $('task-view', HTMLDialogElement).showModal()
  api<Task>('GET', `/api/admin/tasks/${encodeURIComponent(id)}`).then((res) => {
    if (res.status === 200 && taskView && taskView.id === id) fillTaskView(res.body)
  }).catch(ignoreUnauthorized)
  followOutput(id, controller.signal).catch(() => {
    if (!controller.signal.aborted) setText($('task-output-state'), 'Output stream lost')
  })
}

async function followOutput(id: string, signal: AbortSignal): Promise<void> {
  const res = await fetch(`/api/admin/tasks/${encodeURIComponent(id)}/output?follow=1`, {
    headers: { authorization: `Bearer ${token()}`, accept: 'text/event-stream' },
    credentials: 'omit', cache: 'no-store', signal,
  })
  if (res.status !== 200 || !res.body) { setText($('task-output-state'), `Output unavailable (HTTP ${res.status})`); return }
  setText($('task-output-state'), 'Live')
  const reader = res.body.getReader()
  const decoder = new TextDecoder()
  const parser = createSseParser((e) => {
    let data
    try { data = JSON.parse(e.data) } catch { return } // not ours to show; the next event carries the state again
    if (e.event === 'output') appendOutput((data as { data: string }).data)
    else if (e.event === 'end') {
      const task = data as Task
      fillTaskView(task)
      taskSeen(task)
      setText($('task-output-state'), `Ended: ${task.status}`)
    }
  })
  for (;;) {
    const r = await reader.read()
    if (r.done) return
    parser.push(decoder.decode(r.value, { stream: true }))
  }
}

function closeTaskView(): void {
  if (taskView) taskView.controller.abort()
  taskView = null
}

async function cancelTask(id: string): Promise<void> {
  const ok = await confirmAction(`Cancel task ${shortId(id)}?`, 'A queued task never runs. A running one gets SIGTERM, then SIGKILL after its sidecar\'s grace.')
  if (!ok) return
  const res = await api<Task>('POST', `/api/admin/tasks/${encodeURIComponent(id)}/cancel`)
  if (res.status !== 200) return toast(`Cancel failed: ${errorText(res)}`, true)
  fillTaskView(res.body)
  taskSeen(res.body)
  toast(`Cancelled ${shortId(id)}`)
}

export function listenToTaskView(): void {
  $('task-view').addEventListener('close', closeTaskView)
  $('task-status').addEventListener('change', () => {
    showTaskStatus($('task-status', HTMLSelectElement).value)
    loadTasks().catch(ignoreUnauthorized)
  })
  $('tasks-body').addEventListener('click', (e) => {
    const b = closestTo(e.target, 'button[data-task]')
    if (b) openTask(b.dataset.task!)
  })
  $('task-cancel').addEventListener('click', () => {
    cancelTask($('task-cancel').dataset.task!).catch(ignoreUnauthorized)
  })
}
