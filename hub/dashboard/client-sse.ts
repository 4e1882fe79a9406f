/**
 * Browser code, as a string: the events stream read with fetch(), since EventSource cannot send
 * an Authorization header and the token must never go into a URL. Plain ES2020, no backticks,
 * so it can live in a String.raw template. `createSseParser` is tested alone in Node.
 */
export const SSE_CLIENT_JS = String.raw`
/**
 * An incremental text/event-stream parser (WHATWG HTML, "event stream interpretation").
 * push(text) takes decoded chunks of any size; onEvent({ id, event, data }) runs per event.
 * onId(id) runs whenever an id field is seen, since the last event id survives an event
 * without data. An event with a name but no data is still delivered (event: reset).
 */
function createSseParser(onEvent, onRetry) {
  var buffer = ''
  var skipLf = false
  var first = true
  var data = []
  var hasData = false
  var eventName = ''
  var lastId = null
  function dispatch() {
    if (hasData || eventName) {
      onEvent({ id: lastId, event: eventName || 'message', data: data.join('\n') })
    }
    data = []
    hasData = false
    eventName = ''
  }
  function line(text) {
    if (text === '') return dispatch()
    if (text.charCodeAt(0) === 58) return // ':' starts a comment
    var colon = text.indexOf(':')
    var field = colon < 0 ? text : text.slice(0, colon)
    var value = colon < 0 ? '' : text.slice(colon + 1)
    if (value.charCodeAt(0) === 32) value = value.slice(1)
    if (field === 'data') { data.push(value); hasData = true }
    else if (field === 'event') eventName = value
    else if (field === 'id') { if (value.indexOf('\u0000') < 0) lastId = value }
    else if (field === 'retry') { if (/^\d+$/.test(value) && onRetry) onRetry(Number(value)) }
  }
  return {
    push: function (chunk) {
      if (first && chunk.length > 0) {
        first = false
        if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1)
      }
      if (skipLf && chunk.charCodeAt(0) === 10) chunk = chunk.slice(1)
      skipLf = false
      buffer += chunk
      var start = 0
      for (var i = 0; i < buffer.length; i++) {
        var c = buffer.charCodeAt(i)
        if (c !== 10 && c !== 13) continue
        line(buffer.slice(start, i))
        if (c === 13) {
          if (i + 1 < buffer.length) { if (buffer.charCodeAt(i + 1) === 10) i++ }
          else skipLf = true
        }
        start = i + 1
      }
      buffer = buffer.slice(start)
    },
    get lastId() { return lastId },
  }
}

/**
 * Keeps one events stream open. Calls handlers.onOpen() once the hub answered 200,
 * onEvent(e) per event, onDown(ms) when the stream dropped and the next try is in ms,
 * onUnauthorized() on 401, onUnavailable(status) when the hub has no events route.
 * Reconnects with Last-Event-ID and a capped, jittered backoff; a stream silent for
 * 45 s (the hub comments at least every 15 s) counts as dropped.
 */
function openEventStream(opts) {
  var lastId = null
  var attempt = 0
  var retryMs = 1000
  var stopped = false
  var controller = null
  var retryTimer = null
  var watchdog = null
  function armWatchdog() {
    clearTimeout(watchdog)
    watchdog = setTimeout(function () { if (controller) controller.abort() }, 45000)
  }
  function scheduleRetry() {
    if (stopped) return
    var delay = Math.min(30000, retryMs * Math.pow(2, Math.min(attempt, 5)))
    delay = Math.round(delay * (0.75 + Math.random() * 0.5))
    attempt++
    opts.onDown(delay)
    retryTimer = setTimeout(connect, delay)
  }
  function connect() {
    if (stopped) return
    controller = new AbortController()
    var headers = { authorization: 'Bearer ' + opts.token(), accept: 'text/event-stream' }
    if (lastId !== null) headers['last-event-id'] = lastId
    armWatchdog()
    fetch(opts.url, { headers: headers, credentials: 'omit', cache: 'no-store', signal: controller.signal })
      .then(function (res) {
        if (res.status === 401) { stop(); opts.onUnauthorized(); return }
        if (res.status === 404 || res.status === 405 || res.status === 501) {
          stop(); opts.onUnavailable(res.status); return
        }
        if (!res.ok || !res.body) throw new Error('events stream answered ' + res.status)
        attempt = 0
        opts.onOpen(lastId !== null)
        var parser = createSseParser(function (e) {
          if (e.id !== null) lastId = e.id
          opts.onEvent(e)
        }, function (ms) { retryMs = Math.max(500, Math.min(ms, 30000)) })
        var reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
        function pump() {
          return reader.read().then(function (r) {
            if (r.done) throw new Error('events stream ended')
            armWatchdog()
            parser.push(r.value)
            if (parser.lastId !== null) lastId = parser.lastId
            return pump()
          })
        }
        return pump()
      })
      .catch(function () {
        clearTimeout(watchdog)
        scheduleRetry()
      })
  }
  function stop() {
    stopped = true
    clearTimeout(retryTimer)
    clearTimeout(watchdog)
    if (controller) controller.abort()
  }
  connect()
  return { stop: stop }
}
`
