/**
 * Server-Sent Events as the hub sends them (`GET /api/admin/events`, task output with
 * `?follow=1`): a response body in, one `{event, id, data}` per event out. Comment lines (the
 * keep-alives) are skipped.
 */

export interface SseEvent {
  event: string
  id: string | null
  data: string
}

export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder()
  let buffer = ''
  let event: { event: string; id: string | null; data: string[] } = blank()
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true })
    let newline: number
    while ((newline = buffer.search(/\r?\n/)) !== -1) {
      const line = buffer.slice(0, newline)
      buffer = buffer.slice(newline + (buffer[newline] === '\r' ? 2 : 1))
      if (line === '') {
        if (event.data.length > 0 || event.event !== 'message') yield { event: event.event, id: event.id, data: event.data.join('\n') }
        event = blank()
        continue
      }
      if (line.startsWith(':')) continue
      const colon = line.indexOf(':')
      const field = colon === -1 ? line : line.slice(0, colon)
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
      if (field === 'event') event.event = value
      else if (field === 'id') event.id = value
      else if (field === 'data') event.data.push(value)
    }
  }
}

function blank() {
  return { event: 'message', id: null as string | null, data: [] as string[] }
}
