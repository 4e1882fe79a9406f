/**
 * Browser code, as a string: the charts, drawn as inline SVG (nothing to fetch, nothing inline
 * for the CSP to refuse). A memory sparkline per agent row from its last stats reports, and
 * for the fleet over the last hour, minute by minute, the most agents seen in each status and
 * the tasks finished. They start from GET /api/admin/metrics/history and move with the events
 * stream. Plain ES2020, no backticks (it lives in a String.raw template).
 */
export const CHARTS_JS = String.raw`
// The page's own charts were parsed as SVG: their namespace, with no address written here.
var SVG_NS = document.getElementById('chart-statuses').namespaceURI
var SPARK_POINTS = 30
var CHART_MINUTES = 60
var STATUS_SERIES = ['idle', 'working', 'restarting', 'offline']
var FINAL_STATUSES = ['completed', 'failed', 'cancelled']
var COUNTED_TASKS = 5000

function svgEl(tag, attrs) {
  var node = document.createElementNS(SVG_NS, tag)
  for (var k in attrs) node.setAttribute(k, String(attrs[k]))
  return node
}

function zeroes(keys) {
  var out = {}
  keys.forEach(function (k) { out[k] = 0 })
  return out
}

function createCharts(dom) {
  var memory = new Map()
  var minutes = []
  var minuteMs = 60000
  var counted = new Set()
  var now = zeroes(STATUS_SERIES)
  var frame = 0

  function schedule() { if (!frame) frame = requestAnimationFrame(render) }

  /** The sample of the minute holding 'at' (made when it is the newest), else null. */
  function minuteOf(at) {
    var start = Math.floor(at / minuteMs) * minuteMs
    var last = minutes[minutes.length - 1]
    if (last && last.at === start) return last
    if (last && start < last.at) {
      for (var i = minutes.length - 1; i >= 0; i--) if (minutes[i].at === start) return minutes[i]
      return null
    }
    var fresh = { at: start, agents: zeroes(STATUS_SERIES), finished: zeroes(FINAL_STATUSES) }
    minutes.push(fresh)
    while (minutes.length && minutes[0].at <= start - CHART_MINUTES * minuteMs) minutes.shift()
    return fresh
  }

  function load(h) {
    if (!h || !Array.isArray(h.minutes)) return
    minuteMs = h.minute_ms > 0 ? h.minute_ms : 60000
    minutes = h.minutes.slice(-CHART_MINUTES)
    var m = h.memory || {}
    var fresh = new Map()
    Object.keys(m).forEach(function (id) {
      var mine = memory.get(id) || []
      var theirs = Array.isArray(m[id]) ? m[id] : []
      // Keep the points seen live since the hub answered.
      var last = theirs.length ? theirs[theirs.length - 1].at : -1
      fresh.set(id, theirs.concat(mine.filter(function (p) { return p.at > last })).slice(-SPARK_POINTS))
    })
    memory = fresh
    schedule()
  }

  function agentSeen(a) {
    var s = a && a.stats
    if (!s || typeof s.rss_bytes !== 'number' || typeof s.at !== 'number') return
    var points = memory.get(a.agent_id)
    if (!points) memory.set(a.agent_id, points = [])
    if (points.length && points[points.length - 1].at >= s.at) return
    points.push({ at: s.at, rss_bytes: s.rss_bytes })
    if (points.length > SPARK_POINTS) points.shift()
  }

  /** The fleet's counts now (by status) raise this minute's highs. */
  function statusesNow(counts) {
    var m = minuteOf(Date.now())
    STATUS_SERIES.forEach(function (s) {
      now[s] = counts[s] || 0
      m.agents[s] = Math.max(m.agents[s] || 0, now[s])
    })
    schedule()
  }

  function taskSeen(t) {
    if (!t || typeof t.task_id !== 'string') return
    if (FINAL_STATUSES.indexOf(t.status) < 0) { counted.delete(t.task_id); return }
    if (counted.has(t.task_id)) return
    counted.add(t.task_id)
    if (counted.size > COUNTED_TASKS) counted.delete(counted.values().next().value)
    var m = minuteOf(typeof t.updated_at === 'number' ? t.updated_at : Date.now())
    if (m) { m.finished[t.status] = (m.finished[t.status] || 0) + 1; schedule() }
  }

  function clear() { memory = new Map(); minutes = []; counted = new Set(); now = zeroes(STATUS_SERIES); schedule() }

  function render() {
    frame = 0
    var first = Math.floor(Date.now() / minuteMs) * minuteMs - (CHART_MINUTES - 1) * minuteMs
    drawStatuses(dom.statuses, minutes, first, minuteMs, now)
    drawFinished(dom.finished, minutes, first, minuteMs)
  }

  return {
    load: load, agentSeen: agentSeen, statusesNow: statusesNow, taskSeen: taskSeen, clear: clear, render: schedule,
    memoryPoints: function (id) { return memory.get(id) || [] },
  }
}

var CHART_W = 600
var CHART_H = 120
var PAD = 4

var SLOT = (CHART_W - 2 * PAD) / CHART_MINUTES

/** The left edge of a minute's slot: 60 slots, the newest minute at the right. */
function slotX(at, first, minuteMs) {
  return PAD + Math.round((at - first) / minuteMs) * SLOT
}

function chartY(n, max) {
  return CHART_H - PAD - (n / max) * (CHART_H - 2 * PAD - 12)
}

function drawStatuses(svg, minutes, first, minuteMs, now) {
  var shown = minutes.filter(function (m) { return m.at >= first })
  var max = 1
  shown.forEach(function (m) { STATUS_SERIES.forEach(function (s) { max = Math.max(max, m.agents[s] || 0) }) })
  var nodes = [svgEl('text', { x: PAD, y: 12, class: 'chart-scale' })]
  nodes[0].textContent = String(max)
  STATUS_SERIES.forEach(function (s, i) {
    // A step per minute; each series a pixel or two above the next, so equal counts stay visible.
    var points = []
    shown.forEach(function (m) {
      var x = slotX(m.at, first, minuteMs)
      var y = (chartY(m.agents[s] || 0, max) - (STATUS_SERIES.length - 1 - i) * 1.5).toFixed(1)
      points.push(x.toFixed(1) + ',' + y, (x + SLOT).toFixed(1) + ',' + y)
    })
    var line = svgEl('polyline', { points: points.join(' '), class: 'series line-' + s })
    line.dataset.status = s
    nodes.push(line)
  })
  svg.replaceChildren.apply(svg, nodes)
  var most = zeroes(STATUS_SERIES)
  shown.forEach(function (m) { STATUS_SERIES.forEach(function (s) { most[s] = Math.max(most[s], m.agents[s] || 0) }) })
  var say = function (counts) { return STATUS_SERIES.map(function (s) { return counts[s] + ' ' + s }).join(', ') }
  svg.setAttribute('aria-label', 'Agents by status, last hour. Now: ' + say(now) + '. Most in one minute: ' + say(most))
}

function drawFinished(svg, minutes, first, minuteMs) {
  var shown = minutes.filter(function (m) { return m.at >= first })
  var max = 1
  shown.forEach(function (m) { max = Math.max(max, FINAL_STATUSES.reduce(function (n, s) { return n + (m.finished[s] || 0) }, 0)) })
  var nodes = [svgEl('text', { x: PAD, y: 12, class: 'chart-scale' })]
  nodes[0].textContent = String(max)
  shown.forEach(function (m) {
    var y = CHART_H - PAD
    FINAL_STATUSES.forEach(function (s) {
      var n = m.finished[s] || 0
      if (!n) return
      var h = CHART_H - PAD - chartY(n, max)
      y -= h
      var x = slotX(m.at, first, minuteMs) + 1
      nodes.push(svgEl('rect', { x: x.toFixed(1), y: y.toFixed(1), width: (SLOT - 2).toFixed(1), height: h.toFixed(1), class: 'bar bar-' + s }))
    })
  })
  svg.replaceChildren.apply(svg, nodes)
  var total = 0
  var failed = 0
  shown.forEach(function (m) { FINAL_STATUSES.forEach(function (s) { total += m.finished[s] || 0 }); failed += m.finished.failed || 0 })
  svg.setAttribute('aria-label', 'Tasks finished per minute, last hour: ' + total + ' finished, ' + failed + ' failed')
}

/** An agent's memory over its last reports, in the Memory cell of its row. */
function drawSparkline(svg, points) {
  svg.dataset.points = String(points.length)
  if (points.length < 2) { svg.replaceChildren(); return }
  var lo = Infinity
  var hi = -Infinity
  points.forEach(function (p) { lo = Math.min(lo, p.rss_bytes); hi = Math.max(hi, p.rss_bytes) })
  var span = hi - lo || 1
  var step = 60 / (SPARK_POINTS - 1)
  var offset = 60 - step * (points.length - 1)
  var coords = points.map(function (p, i) {
    return (offset + i * step).toFixed(1) + ',' + (15 - ((p.rss_bytes - lo) / span) * 14).toFixed(1)
  })
  svg.replaceChildren(svgEl('polyline', { points: coords.join(' '), class: 'spark-line' }))
  svg.setAttribute('aria-label', 'Memory over the last ' + points.length + ' reports, ' + formatBytes(lo) + ' to ' + formatBytes(hi))
}

function createSparkline() {
  var svg = svgEl('svg', { class: 'spark', viewBox: '0 0 60 16', role: 'img', 'aria-label': 'No memory history yet' })
  svg.dataset.points = '0'
  return svg
}

function sparkPoints(agentId) {
  return typeof charts === 'undefined' || !charts ? [] : charts.memoryPoints(agentId)
}
`
