/**
 * Browser code, as a string: formatting and the DOM of one agent row, the tasks list, the
 * rollouts and the healing history. Everything the hub sends goes in through textContent,
 * never innerHTML. Plain ES2020, no backticks (it lives in a String.raw template).
 */
export const VIEW_JS = String.raw`
var numberFormat = new Intl.NumberFormat('en-US')
var collator = new Intl.Collator('en', { numeric: true })

function el(tag, className, text) {
  var node = document.createElement(tag)
  if (className) node.className = className
  if (text !== undefined && text !== null) node.textContent = String(text)
  return node
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text
}

function formatCount(n) {
  return numberFormat.format(n)
}

function formatBytes(n) {
  if (typeof n !== 'number' || !isFinite(n) || n < 0) return '—'
  var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  var i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return (i === 0 || n >= 10 ? Math.round(n) : n.toFixed(1)) + ' ' + units[i]
}

function formatAgo(at, now) {
  if (typeof at !== 'number') return '—'
  var s = Math.round((now - at) / 1000)
  if (s < 5) return 'just now'
  if (s < 60) return s + ' s ago'
  if (s < 3600) return Math.floor(s / 60) + ' min ago'
  if (s < 86400) return Math.floor(s / 3600) + ' h ago'
  return new Date(at).toISOString().slice(0, 10)
}

function formatTime(at) {
  return typeof at === 'number' ? new Date(at).toLocaleString() : ''
}

function shortId(id) {
  return typeof id === 'string' && id.length > 8 ? id.slice(0, 8) : (id || '—')
}

/** Which summary and filter groups an agent is in: its status plus its flags. */
function agentGroups(a) {
  var groups = [a.status]
  if (a.drained) groups.push('drained')
  if (a.quarantined) groups.push('quarantined')
  if (a.restart && a.restart.state === 'failed') groups.push('failed')
  return groups
}

function agentMemory(a) {
  if (a.stats && typeof a.stats.rss_bytes === 'number') return a.stats.rss_bytes
  return a.pm2_info ? a.pm2_info.memory_bytes : null
}

function statusPill(status) {
  var pill = el('span', 'pill s-' + String(status).replace(/[^a-z_-]/gi, ''))
  pill.appendChild(el('span', 'dot')).setAttribute('aria-hidden', 'true')
  pill.appendChild(document.createTextNode(String(status)))
  return pill
}

function button(label, action, className) {
  var b = el('button', className || '', label)
  b.type = 'button'
  if (action) b.dataset.action = action
  return b
}

/** A row for the agents table: cells are filled by updateAgentRow. */
function createAgentRow(id) {
  var tr = el('tr')
  tr.dataset.agent = id
  var name = el('th', 'agent-id')
  name.scope = 'row'
  tr.appendChild(name)
  var names = ['status', 'num', 'num', 'task', 'seen', 'hub', 'version', 'actions']
  for (var i = 0; i < names.length; i++) tr.appendChild(el('td', names[i]))
  var memory = tr.children[3]
  memory.appendChild(el('span', 'mem'))
  memory.appendChild(createSparkline())
  var actions = tr.lastChild
  actions.appendChild(button('Restart', 'restart'))
  actions.appendChild(button('Drain', 'drain'))
  return tr
}

function updateAgentRow(tr, a, now) {
  var c = tr.children
  var labels = (a.labels || []).join(' ')
  if (c[0].dataset.shown !== a.agent_id + ' ' + labels) {
    c[0].dataset.shown = a.agent_id + ' ' + labels
    c[0].replaceChildren(document.createTextNode(a.agent_id))
    ;(a.labels || []).forEach(function (l) { c[0].appendChild(el('span', 'tag t-label', l)) })
  }
  var groups = agentGroups(a).join(' ')
  if (c[1].dataset.groups !== groups) {
    c[1].dataset.groups = groups
    c[1].replaceChildren(statusPill(a.status))
    if (a.quarantined) c[1].appendChild(el('span', 'tag t-quarantined', 'quarantined'))
    else if (a.drained) c[1].appendChild(el('span', 'tag t-drained', 'drained'))
    if (a.restart && a.restart.state === 'failed') {
      var failed = el('span', 'tag t-failed', 'restart failed')
      failed.title = a.restart.error || ''
      c[1].appendChild(failed)
    }
  }
  setText(c[2], a.pm2_info ? formatCount(a.pm2_info.restart_count) : '—')
  var mem = agentMemory(a)
  setText(c[3].firstChild, formatBytes(mem))
  c[3].title = typeof mem === 'number' ? formatCount(mem) + ' bytes' : ''
  drawSparkline(c[3].lastChild, sparkPoints(a.agent_id))
  setText(c[4], a.task_id ? shortId(a.task_id) : '—')
  c[4].title = a.task_id || ''
  setText(c[5], a.connected ? formatAgo(a.last_seen, now) : (a.last_seen ? formatAgo(a.last_seen, now) : '—'))
  c[5].title = formatTime(a.last_seen)
  setText(c[6], a.hub_id || '—')
  setText(c[7], a.version || '—')
  c[7].title = a.host ? [a.host.hostname, a.host.platform, a.host.arch, 'node ' + a.host.node_version].join(' · ') : ''
  var restart = c[8].children[0]
  var drain = c[8].children[1]
  restart.disabled = !a.connected
  restart.title = a.connected ? '' : 'Not connected'
  restart.setAttribute('aria-label', 'Restart ' + a.agent_id)
  var resume = a.drained || a.quarantined
  setText(drain, resume ? 'Resume' : 'Drain')
  drain.dataset.action = resume ? 'resume' : 'drain'
  drain.setAttribute('aria-label', (resume ? 'Resume ' : 'Drain ') + a.agent_id)
}

function renderTasks(list, tasks, now) {
  var rows = []
  var shown = 0
  for (var i = tasks.length - 1; i >= 0 && shown < 50; i--, shown++) {
    var t = tasks[i]
    var tr = el('tr')
    var id = el('th', 'mono')
    id.scope = 'row'
    var open = button(shortId(t.task_id), null, 'link mono')
    open.dataset.task = t.task_id
    open.title = t.task_id
    open.setAttribute('aria-label', 'Open task ' + t.task_id)
    id.appendChild(open)
    tr.appendChild(id)
    var status = el('td')
    status.appendChild(statusPill(t.status))
    if (t.error) status.title = String(t.error).slice(-300)
    tr.appendChild(status)
    tr.appendChild(el('td', 'mono', t.agent_id || '—'))
    tr.appendChild(el('td', 'num', t.attempts === undefined ? '—' : formatCount(t.attempts)))
    var updated = el('td', 'seen', formatAgo(t.updated_at, now))
    updated.title = formatTime(t.updated_at)
    tr.appendChild(updated)
    rows.push(tr)
  }
  list.replaceChildren.apply(list, rows)
}

var ROLLOUT_STATES = ['waiting', 'commanded', 'deferred', 'restarting', 'completed', 'failed']

function renderRollout(r) {
  var li = el('li', 'rollout')
  li.dataset.rollout = r.rollout_id
  var head = el('div', 'rollout-head')
  var title = el('span', 'mono', 'Rollout ' + shortId(r.rollout_id))
  title.title = r.rollout_id
  head.appendChild(title)
  head.appendChild(statusPill(r.state))
  head.appendChild(el('span', 'muted', 'max unavailable ' + r.max_unavailable + (r.reason ? ' · ' + r.reason : '')))
  if (r.state === 'running') head.appendChild(button('Cancel', 'cancel-rollout', 'small'))
  li.appendChild(head)
  var counts = {}
  var agents = r.agents || []
  for (var i = 0; i < agents.length; i++) counts[agents[i].state] = (counts[agents[i].state] || 0) + 1
  var done = counts.completed || 0
  var bar = el('progress')
  bar.max = Math.max(1, agents.length)
  bar.value = done
  bar.setAttribute('aria-label', 'Rollout ' + shortId(r.rollout_id) + ': ' + done + ' of ' + agents.length + ' restarted')
  li.appendChild(bar)
  var parts = []
  for (var j = 0; j < ROLLOUT_STATES.length; j++) {
    var s = ROLLOUT_STATES[j]
    if (counts[s]) parts.push(formatCount(counts[s]) + ' ' + s)
  }
  li.appendChild(el('p', 'rollout-counts', done + ' / ' + agents.length + ' done' + (parts.length ? ' — ' + parts.join(' · ') : '')))
  return li
}

function renderHealing(list, actions, now) {
  var rows = []
  for (var i = 0; i < actions.length && i < 50; i++) {
    var h = actions[i]
    var tr = el('tr')
    var at = el('td', 'seen', formatAgo(h.at, now))
    at.title = formatTime(h.at)
    tr.appendChild(at)
    tr.appendChild(el('th', 'mono', h.agent_id)).scope = 'row'
    tr.appendChild(el('td', '', h.rule))
    tr.appendChild(el('td', '', h.action))
    var state = el('td')
    if (h.state) state.appendChild(statusPill(h.state))
    tr.appendChild(state)
    tr.appendChild(el('td', 'detail', typeof h.detail === 'string' ? h.detail : JSON.stringify(h.detail)))
    rows.push(tr)
  }
  list.replaceChildren.apply(list, rows)
}
`
