/**
 * An incremental text/event-stream parser (WHATWG HTML, "event stream interpretation"), for the
 * events stream and a task's output, both read with fetch(). Pure: tested alone in Node.
 */

/** One dispatched event; `id` is the last event id seen so far (it survives events without one). */
export interface ParsedEvent { id: string | null; event: string; data: string }

export interface SseParser {
  /** Takes decoded chunks of any size. */
  push(chunk: string): void
  readonly lastId: string | null
}

const LF = 10
const CR = 13
const COLON = 58
const SPACE = 32

/**
 * onEvent runs per event. An event with a name but no data is still delivered (event: reset).
 * onRetry runs with the `retry:` field's milliseconds.
 */
export function createSseParser(onEvent: (e: ParsedEvent) => void, onRetry?: (ms: number) => void): SseParser {
  let buffer = ''
  let skipLf = false
  let first = true
  let data: string[] = []
  let hasData = false
  let eventName = ''
  let lastId: string | null = null
  function dispatch(): void {
    if (hasData || eventName) onEvent({ id: lastId, event: eventName || 'message', data: data.join('\n') })
    data = []
    hasData = false
    eventName = ''
  }
  function line(text: string): void {
    if (text === '') return dispatch()
    if (text.charCodeAt(0) === COLON) return // a comment
    const colon = text.indexOf(':')
    const field = colon < 0 ? text : text.slice(0, colon)
    let value = colon < 0 ? '' : text.slice(colon + 1)
    if (value.charCodeAt(0) === SPACE) value = value.slice(1)
    if (field === 'data') { data.push(value); hasData = true }
    else if (field === 'event') eventName = value
    else if (field === 'id') { if (!value.includes('\u0000')) lastId = value }
    else if (field === 'retry') { if (/^\d+$/.test(value) && onRetry) onRetry(Number(value)) }
  }
  return {
    push(chunk: string): void {
      if (first && chunk.length > 0) {
        first = false
        if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1)
      }
      if (skipLf && chunk.charCodeAt(0) === LF) chunk = chunk.slice(1)
      skipLf = false
      buffer += chunk
      let start = 0
      for (let i = 0; i < buffer.length; i++) {
        const c = buffer.charCodeAt(i)
        if (c !== LF && c !== CR) continue
        line(buffer.slice(start, i))
        if (c === CR) {
          if (i + 1 < buffer.length) { if (buffer.charCodeAt(i + 1) === LF) i++ }
          else skipLf = true
        }
        start = i + 1
      }
      buffer = buffer.slice(start)
    },
    get lastId() { return lastId },
  }
}
