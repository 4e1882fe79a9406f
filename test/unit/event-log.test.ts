import { describe, expect, it } from 'vitest'
import {
  EventLog, formatLoggedEvent, formatReplay, formatSseComment, formatSseEvent, formatSseReset, type LoggedEvent,
} from '../../hub/events/event-log.ts'
// The dashboard's own parser, the module bundled into the script the browser runs.
import { createSseParser, type ParsedEvent } from '../../hub/dashboard/browser/sse-parser.ts'

function parseAll(chunks: string[]): ParsedEvent[] {
  const events: ParsedEvent[] = []
  const parser = createSseParser((e) => events.push(e))
  for (const chunk of chunks) parser.push(chunk)
  return events
}

describe('EventLog', () => {
  it('numbers events monotonically under its epoch', () => {
    const log = new EventLog({ epoch: 'e1' })
    expect(log.lastId).toBe('e1-0')
    expect(log.append('agent', { agent_id: 'a' })).toBe('e1-1')
    expect(log.append('task', { task_id: 't' })).toBe('e1-2')
    expect(log.lastId).toBe('e1-2')
  })

  it('gives a random epoch by default, so two logs never share ids', () => {
    const a = new EventLog()
    const b = new EventLog()
    expect(a.epoch).toMatch(/^[A-Za-z0-9_]+$/)
    expect(a.append('agent', 1)).not.toBe(b.append('agent', 1))
  })

  it('replays exactly the events after the given id, in order', () => {
    const log = new EventLog({ epoch: 'e' })
    for (let i = 1; i <= 5; i++) log.append(i % 2 ? 'agent' : 'task', { n: i })
    const replay = log.since('e-2')
    expect(replay.reset).toBe(false)
    if (replay.reset) return
    expect(replay.events.map((e) => [e.id, e.kind, JSON.parse(e.json).n])).toEqual([
      ['e-3', 'agent', 3], ['e-4', 'task', 4], ['e-5', 'agent', 5],
    ])
    expect(log.since('e-5')).toEqual({ reset: false, events: [] })
  })

  it('replays nothing to a client that sends no id', () => {
    const log = new EventLog({ epoch: 'e' })
    log.append('agent', {})
    for (const id of [undefined, null, '']) expect(log.since(id)).toEqual({ reset: false, events: [] })
  })

  it('keeps only the last `capacity` events and resets a client that missed more', () => {
    const log = new EventLog({ epoch: 'e', capacity: 3 })
    for (let i = 1; i <= 5; i++) log.append('agent', { n: i })
    const kept = log.since('e-2')
    expect(kept.reset ? 'reset' : kept.events.map((e) => e.seq)).toEqual([3, 4, 5])
    expect(log.since('e-1')).toEqual({ reset: true, lastId: 'e-5' })
    expect(log.since('e-0')).toEqual({ reset: true, lastId: 'e-5' })
  })

  it('keeps the last 1000 by default', () => {
    const log = new EventLog({ epoch: 'e' })
    for (let i = 1; i <= 1500; i++) log.append('agent', { n: i })
    const replay = log.since('e-500')
    expect(replay.reset ? 'reset' : [replay.events.length, replay.events[0].seq, replay.events.at(-1)!.seq]).toEqual([1000, 501, 1500])
    expect(log.since('e-499')).toEqual({ reset: true, lastId: 'e-1500' })
  })

  it('resets an id it cannot vouch for: another epoch, the future, or not an id', () => {
    const log = new EventLog({ epoch: 'e' })
    log.append('agent', {})
    log.append('agent', {})
    for (const id of ['other-1', 'e-3', 'e-99999999', 'e-', 'e-1.5', 'e--1', '7', 'garbage', 'e-1\n']) {
      expect(log.since(id), id).toEqual({ reset: true, lastId: 'e-2' })
    }
  })

  it('hands each event to every live listener, and no more after unsubscribe', () => {
    const log = new EventLog({ epoch: 'e' })
    const a: string[] = []
    const b: string[] = []
    const stopA = log.subscribe((e) => a.push(e.id))
    log.subscribe((e) => b.push(e.id))
    log.append('agent', {})
    stopA()
    log.append('agent', {})
    expect(a).toEqual(['e-1'])
    expect(b).toEqual(['e-1', 'e-2'])
    expect(log.listenerCount).toBe(1)
  })

  it('drops a listener that throws, and the others still get the event', () => {
    const log = new EventLog({ epoch: 'e' })
    const got: string[] = []
    log.subscribe(() => { throw new Error('stream closed') })
    log.subscribe((e) => got.push(e.id))
    log.append('agent', {})
    log.append('agent', {})
    expect(got).toEqual(['e-1', 'e-2'])
    expect(log.listenerCount).toBe(1)
  })

  it('attach: the replay and the live events together miss nothing and repeat nothing', () => {
    const log = new EventLog({ epoch: 'e' })
    log.append('agent', { n: 1 })
    log.append('agent', { n: 2 })
    const live: number[] = []
    const { replay, unsubscribe } = log.attach('e-1', (e) => live.push(e.seq))
    log.append('agent', { n: 3 })
    unsubscribe()
    log.append('agent', { n: 4 })
    expect(replay.reset ? 'reset' : replay.events.map((e) => e.seq)).toEqual([2])
    expect(live).toEqual([3])
  })

  it('serializes the data once, when first read, whatever the number of readers', () => {
    const log = new EventLog({ epoch: 'e' })
    let serialized = 0
    const data = { agent_id: 'a', toJSON: () => (serialized++, { agent_id: 'a' }) }
    const seen: LoggedEvent[] = []
    log.subscribe((e) => seen.push(e))
    log.subscribe((e) => seen.push(e))
    log.append('agent', data)
    expect(serialized).toBe(0)
    expect(seen[0].json).toBe('{"agent_id":"a"}')
    expect(seen[1].json).toBe('{"agent_id":"a"}')
    const replay = log.since('e-0')
    expect(replay.reset === false && replay.events[0].json).toBe('{"agent_id":"a"}')
    expect(serialized).toBe(1)
  })

  it('refuses a bad capacity or epoch at construction', () => {
    expect(() => new EventLog({ capacity: 0 })).toThrow(/^options\.capacity must be a positive integer, got 0$/)
    expect(() => new EventLog({ capacity: 1.5 })).toThrow(/^options\.capacity must be a positive integer, got 1\.5$/)
    expect(() => new EventLog({ epoch: 'a-b' })).toThrow(/^options\.epoch must be 1 to 32 characters of A-Za-z0-9_, got "a-b"$/)
  })
})

describe('SSE formatting', () => {
  it('writes id, event and one data line per line of data', () => {
    expect(formatSseEvent({ id: 'e-1', kind: 'agent', data: '{"a":1}' })).toBe('id: e-1\nevent: agent\ndata: {"a":1}\n\n')
    expect(formatSseEvent({ data: 'one\ntwo\r\nthree' })).toBe('data: one\ndata: two\ndata: three\n\n')
  })

  it('never lets a line break in an id or event name start a new field', () => {
    expect(formatSseEvent({ id: 'x\nevent: evil', kind: 'a\rb', data: '' })).toBe('id: x event: evil\nevent: a b\ndata: \n\n')
  })

  it('writes comments and the reset marker', () => {
    expect(formatSseComment()).toBe(':\n\n')
    expect(formatSseComment('keep-alive')).toBe(': keep-alive\n\n')
    expect(formatSseReset('e-7')).toBe('id: e-7\nevent: reset\ndata: {}\n\n')
  })

  it('formats a replay: the reset alone, or every missed event', () => {
    const log = new EventLog({ epoch: 'e', capacity: 2 })
    log.append('agent', { n: 1 })
    log.append('task', { n: 2 })
    log.append('rollout', { n: 3 })
    expect(formatReplay(log.since('e-0'))).toBe(formatSseReset('e-3'))
    expect(formatReplay(log.since('e-1'))).toBe('id: e-2\nevent: task\ndata: {"n":2}\n\nid: e-3\nevent: rollout\ndata: {"n":3}\n\n')
  })
})

describe('the dashboard SSE parser reads what the hub writes', () => {
  const log = new EventLog({ epoch: 'e' })
  log.append('agent', { agent_id: 'a-1', status: 'idle', note: 'two\nlines' })
  log.append('task', { task_id: 't-1' })
  const replay = log.since('e-0')
  const wire = formatSseComment('hello') + (replay.reset ? '' : replay.events.map(formatLoggedEvent).join('')) + formatSseComment() + formatSseReset(log.lastId)
  const expected = [
    { id: 'e-1', event: 'agent', data: '{"agent_id":"a-1","status":"idle","note":"two\\nlines"}' },
    { id: 'e-2', event: 'task', data: '{"task_id":"t-1"}' },
    { id: 'e-2', event: 'reset', data: '{}' },
  ]

  it('in one chunk', () => {
    expect(parseAll([wire])).toEqual(expected)
  })

  it('split at every possible point, and one character at a time', () => {
    for (let cut = 0; cut <= wire.length; cut++) expect(parseAll([wire.slice(0, cut), wire.slice(cut)])).toEqual(expected)
    expect(parseAll([...wire])).toEqual(expected)
  })

  it('with CRLF and lone CR line ends, even when a CRLF is split across chunks', () => {
    const crlf = wire.replace(/\n/g, '\r\n')
    for (let cut = 0; cut <= crlf.length; cut++) expect(parseAll([crlf.slice(0, cut), crlf.slice(cut)])).toEqual(expected)
    expect(parseAll([wire.replace(/\n/g, '\r')])).toEqual(expected)
  })

  it('joins data lines, strips one leading space and a BOM, keeps the id across events', () => {
    expect(parseAll(['\uFEFFid: 5\ndata:a\ndata:  b\n\ndata\n\nevent: x\n\n'])).toEqual([
      { id: '5', event: 'message', data: 'a\n b' },
      { id: '5', event: 'message', data: '' },
      { id: '5', event: 'x', data: '' },
    ])
  })

  it('dispatches nothing for a comment, an unknown field or an unterminated event', () => {
    expect(parseAll([': ping\n\nfoo: bar\n\ndata: half'])).toEqual([])
  })

  it('reports a valid retry and ignores a bad one', () => {
    const retries: number[] = []
    const parser = createSseParser(() => {}, (ms) => retries.push(ms))
    parser.push('retry: 2500\nretry: soon\n\n')
    expect(retries).toEqual([2500])
  })
})
