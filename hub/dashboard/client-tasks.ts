/**
 * Browser code, as a string: the task list's status filter (its first page read from
 * GET /api/admin/tasks, kept live by the events stream), and the task view: the task, its
 * output followed live (GET .../output?follow=1, read with fetch like the events stream), and a
 * Cancel button behind a confirmation. Runs in client.ts's scope (api, toast, confirmAction).
 */
export const TASKS_JS = String.raw`
var TASK_FINAL = { completed: true, failed: true, cancelled: true }
/** Output shown in the task view, at most: what the hub keeps (1 MiB) and a little more. */
var MAX_OUTPUT_CHARS = 1200000
var taskFilter = ''
var taskView = null

function taskShown(t) { return !taskFilter || t.status === taskFilter }

/** The newest tasks (of the chosen status), replacing those the page had. */
function loadTasks() {
  var path = '/api/admin/tasks?limit=100' + (taskFilter ? '&status=' + encodeURIComponent(taskFilter) : '')
  return api('GET', path).then(function (res) {
    if (res.status !== 200 || !res.body || !Array.isArray(res.body.tasks)) return
    tasks.clear()
    res.body.tasks.slice().reverse().forEach(function (t) { tasks.set(t.task_id, t) })
    scheduleSide()
  })
}

function fillTaskView(t) {
  setText($('task-view-title'), 'Task ' + t.task_id)
  var facts = $('task-facts')
  var rows = [
    ['Status', t.status], ['Agent', t.agent_id || '—'], ['Attempts', String(t.attempts)],
    ['Labels', t.labels && t.labels.length ? t.labels.join(', ') : '—'],
    ['Retries', t.retries ? t.retried + ' of ' + t.retries : '—'],
    ['Updated', formatTime(t.updated_at)],
  ]
  if (t.error) rows.push(['Error', String(t.error).slice(-2000)])
  if (t.status === 'completed') rows.push(['Result', JSON.stringify(t.result).slice(0, 2000)])
  var items = []
  rows.forEach(function (r) { items.push(el('dt', '', r[0])); items.push(el('dd', r[0] === 'Status' ? '' : 'mono', r[1])) })
  facts.replaceChildren.apply(facts, items)
  facts.children[1].replaceChildren(statusPill(t.status))
  $('task-cancel').hidden = !!TASK_FINAL[t.status]
  $('task-cancel').dataset.task = t.task_id
}

function appendOutput(text) {
  var pre = $('task-output')
  var now = pre.textContent + text
  if (now.length > MAX_OUTPUT_CHARS) now = now.slice(now.length - MAX_OUTPUT_CHARS)
  pre.textContent = now
  pre.scrollTop = pre.scrollHeight
}

/** Opens the task view and follows the task's output until it ends or the view closes. */
function openTask(id) {
  closeTaskView()
  var controller = new AbortController()
  taskView = { id: id, controller: controller }
  $('task-output').textContent = ''
  setText($('task-output-state'), 'Connecting…')
  var known = tasks.get(id)
  if (known) fillTaskView(known)
  $('task-view').showModal()
  api('GET', '/api/admin/tasks/' + encodeURIComponent(id)).then(function (res) {
    if (res.status === 200 && taskView && taskView.id === id) fillTaskView(res.body)
  }).catch(ignoreUnauthorized)
  fetch('/api/admin/tasks/' + encodeURIComponent(id) + '/output?follow=1', {
    headers: { authorization: 'Bearer ' + token(), accept: 'text/event-stream' },
    credentials: 'omit', cache: 'no-store', signal: controller.signal,
  }).then(function (res) {
    if (res.status !== 200 || !res.body) { setText($('task-output-state'), 'Output unavailable (HTTP ' + res.status + ')'); return }
    setText($('task-output-state'), 'Live')
    var reader = res.body.getReader()
    var decoder = new TextDecoder()
    var parser = createSseParser(function (e) {
      var data
      try { data = JSON.parse(e.data) } catch (err) { return }
      if (e.event === 'output') appendOutput(data.data)
      else if (e.event === 'end') { fillTaskView(data); keepRecent(tasks, data.task_id, data, MAX_TASKS); setText($('task-output-state'), 'Ended: ' + data.status) }
    })
    function pump() {
      return reader.read().then(function (r) {
        if (r.done) return
        parser.push(decoder.decode(r.value, { stream: true }))
        return pump()
      })
    }
    return pump()
  }).catch(function () {
    if (!controller.signal.aborted) setText($('task-output-state'), 'Output stream lost')
  })
}

function closeTaskView() {
  if (taskView) taskView.controller.abort()
  taskView = null
}

$('task-view').addEventListener('close', closeTaskView)
$('task-status').addEventListener('change', function () {
  taskFilter = $('task-status').value
  scheduleSide()
  loadTasks().catch(ignoreUnauthorized)
})
$('tasks-body').addEventListener('click', function (e) {
  var b = e.target.closest('button[data-task]')
  if (b) openTask(b.dataset.task)
})
$('task-cancel').addEventListener('click', function () {
  var id = $('task-cancel').dataset.task
  confirmAction('Cancel task ' + shortId(id) + '?', 'A queued task never runs. A running one gets SIGTERM, then SIGKILL after its sidecar\'s grace.').then(function (ok) {
    if (!ok) return
    return api('POST', '/api/admin/tasks/' + encodeURIComponent(id) + '/cancel').then(function (res) {
      if (res.status !== 200) return toast('Cancel failed: ' + errorText(res), true)
      fillTaskView(res.body)
      keepRecent(tasks, id, res.body, MAX_TASKS)
      toast('Cancelled ' + shortId(id))
    })
  }).catch(ignoreUnauthorized)
})
`
