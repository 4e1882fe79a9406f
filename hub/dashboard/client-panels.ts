/**
 * Browser code, as a string: the panels beside the agents table (rolling restarts, recent
 * tasks, healing history), kept bounded and drawn at most once per animation frame. Runs in
 * the same scope as client.ts's session code (api, toast, confirmAction).
 */
export const PANELS_JS = String.raw`
function scheduleSide() {
  if (!sideFrame) sideFrame = requestAnimationFrame(renderSide)
}

function renderSide() {
  sideFrame = 0
  var now = Date.now()
  var shownTasks = Array.from(tasks.values()).filter(taskShown)
  renderTasks($('tasks-body'), shownTasks, now)
  $('tasks-empty').hidden = shownTasks.length > 0
  var items = Array.from(rollouts.values()).sort(function (a, b) { return b.created_at - a.created_at })
  $('rollouts').replaceChildren.apply($('rollouts'), items.map(renderRollout))
  $('rollouts-empty').hidden = items.length > 0
  renderHealing($('healing-body'), healing, now)
  $('healing-empty').hidden = healing.length > 0
}

function keepRecent(map, key, value, max) {
  map.delete(key)
  map.set(key, value)
  while (map.size > max) map.delete(map.keys().next().value)
  scheduleSide()
}

function addHealing(h) {
  healing = [h].concat(healing.filter(function (x) { return x.action_id !== h.action_id })).slice(0, MAX_HEALING)
  $('healing').hidden = false
  scheduleSide()
}

function setHealingPaused(paused) {
  setText($('healing-state'), paused ? 'Paused: no healing action starts.' : 'Active.')
  setText($('healing-toggle'), paused ? 'Resume healing' : 'Pause healing')
  $('healing-toggle').dataset.paused = String(paused)
}

function loadHealing() {
  return api('GET', '/api/admin/healing').then(function (res) {
    var ok = res.status === 200 && res.body && Array.isArray(res.body.actions)
    $('healing').hidden = !ok
    if (!ok) return
    healing = res.body.actions.slice(0, MAX_HEALING)
    setHealingPaused(!!res.body.paused)
    scheduleSide()
  })
}

function refreshRollouts() {
  rollouts.forEach(function (r, id) {
    if (r.state !== 'running') return
    api('GET', '/api/admin/rollouts/' + encodeURIComponent(id)).then(function (res) {
      if (res.status === 200) keepRecent(rollouts, id, res.body, MAX_ROLLOUTS)
    }).catch(ignoreUnauthorized)
  })
}

$('rollouts').addEventListener('click', function (e) {
  var b = e.target.closest('button[data-action="cancel-rollout"]')
  var li = b && b.closest('li[data-rollout]')
  if (!li) return
  api('POST', '/api/admin/rollouts/' + encodeURIComponent(li.dataset.rollout) + '/cancel').then(function (res) {
    if (res.status === 200) keepRecent(rollouts, res.body.rollout_id, res.body, MAX_ROLLOUTS)
    else toast('Cancel failed: ' + errorText(res), true)
  }).catch(ignoreUnauthorized)
})
$('rollout-form').addEventListener('submit', function (e) {
  e.preventDefault()
  var max = Number($('max-unavailable').value)
  if (!Number.isInteger(max) || max < 1) { toast('Max unavailable must be a whole number of at least 1.', true); return }
  var n = 0
  for (var a of fleet.values()) if (a.connected && a.supervised !== false) n++
  confirmAction('Restart ' + formatCount(n) + ' agents?', 'Every connected, supervised agent, one by one, at most ' + max + ' at a time.').then(function (ok) {
    if (!ok) return
    return api('POST', '/api/admin/rollouts', { max_unavailable: max, reason: 'dashboard' }).then(function (res) {
      if (res.status !== 201) return toast('Rolling restart failed: ' + errorText(res), true)
      keepRecent(rollouts, res.body.rollout_id, res.body, MAX_ROLLOUTS)
      toast('Rolling restart started (' + shortId(res.body.rollout_id) + ')')
    })
  }).catch(ignoreUnauthorized)
})
$('healing-toggle').addEventListener('click', function () {
  var action = $('healing-toggle').dataset.paused === 'true' ? 'resume' : 'pause'
  api('POST', '/api/admin/healing/' + action).then(function (res) {
    if (res.status === 200) setHealingPaused(!!res.body.paused)
    else toast('Healing ' + action + ' failed: ' + errorText(res), true)
  }).catch(ignoreUnauthorized)
})
`
