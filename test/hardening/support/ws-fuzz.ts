/**
 * Fuzzed sidecar frames, each with the answer the contract owes it, decided when it is made:
 * random bytes, random text, truncated and deeply nested JSON, wrong types, huge strings, and
 * well-formed frames about tasks that do not exist. `identified` says whether it is sent after
 * identify (else a well-formed frame is answered not_identified).
 */
import type { Rng } from './random.ts'

/** What the hub must answer to one frame. */
export type Expect =
  | { error: string[] }
  | { reply: 'pong' | 'task_cancel' | 'task_ack' }
  | { none: true }

export interface FuzzFrame {
  category: string
  data: string | Uint8Array
  binary: boolean
  expect: Expect
}

const PM2 = { name: 'agentcom-x', pm_id: 1, pid: 2, status: 'online', uptime_ms: 3, restart_count: 0, memory_bytes: 4 }

/** Valid sidecar messages (identify is valid in shape only: its token is garbage). */
function validMessage(rng: Rng): Record<string, unknown> {
  const id = `no-such-task-${rng.int(0, 1e9)}`
  switch (rng.int(0, 7)) {
    case 0: return { type: 'ping' }
    case 1: return { type: 'error', error: 'not_supervised', detail: 'fuzz' }
    case 2: return { type: 'agent_restarting', reason: 'fuzz', restart_id: 'r-1' }
    case 3: return { type: 'task_accepted', task_id: id }
    case 4: return { type: 'task_complete', task_id: id, result: { any: ['thing', 1, null] } }
    case 5: return { type: 'task_failed', task_id: id, error: 'boom' }
    case 6: return { type: 'task_interrupted', task_id: id, reason: 'fuzz' }
    default: return {
      type: 'identify', agent_id: 'fuzzer', token: 'garbage', protocol_version: 1, pm2_info: PM2,
      supervised: true, instance_id: 'i', active_task_id: null,
    }
  }
}

/** What a well-formed frame gets. */
function answerTo(msg: Record<string, unknown>, identified: boolean): Expect {
  if (msg.type === 'identify') return { error: ['already_identified'] }
  if (!identified) return { error: ['not_identified'] }
  switch (msg.type) {
    case 'ping': return { reply: 'pong' }
    case 'task_accepted': return { reply: 'task_cancel' }
    case 'task_complete':
    case 'task_failed':
    case 'task_interrupted': return { reply: 'task_ack' }
    default: return { none: true }
  }
}

const WRONG_FOR_STRING = [42, true, null, {}, [], 1.5, -0]
const WRONG: Record<string, unknown[]> = {
  agent_id: [...WRONG_FOR_STRING, '', 'has space', 'x'.repeat(65), 'ünicode', '../etc'],
  token: [...WRONG_FOR_STRING, 't'.repeat(4097)],
  protocol_version: [2, '1', null, 0, true, 1.5, [1]],
  pm2_info: ['x', 42, {}, [], true, { ...PM2, pid: 'x' }, { ...PM2, restart_count: null }, { ...PM2, name: 7 }],
  supervised: ['true', 1, null, 'yes', {}],
  instance_id: [42, {}, true, null, 'i'.repeat(65)],
  active_task_id: [42, {}, '', 'x'.repeat(129)],
  error: [...WRONG_FOR_STRING, 'e'.repeat(65 * 300)],
  detail: [42, {}, true, 'd'.repeat(16 * 1024 + 1)],
  reason: [...WRONG_FOR_STRING, 'r'.repeat(16 * 1024 + 1)],
  restart_id: [42, {}, true, null],
  task_id: [...WRONG_FOR_STRING, '', 'x'.repeat(129)],
}

/** One field of a valid message given a value of the wrong type or size. */
function wrongType(rng: Rng): FuzzFrame {
  for (;;) {
    const msg = validMessage(rng)
    const fields = Object.keys(msg).filter((k) => k !== 'type' && k in WRONG)
    if (rng.chance(0.1) || fields.length === 0) {
      const type = rng.pick([42, null, '', 'PING', 'ping ', 'task-complete', {}, ['ping'], true])
      return { category: 'wrong types', data: JSON.stringify({ ...msg, type }), binary: false, expect: { error: ['unknown_type'] } }
    }
    const field = rng.pick(fields)
    // `error` is a 64-character code on the error message but free text on task_failed.
    const values = msg.type === 'task_failed' && field === 'error' ? WRONG.reason : WRONG[field]
    const value = rng.pick(values)
    const out = JSON.stringify({ ...msg, [field]: value })
    return { category: 'wrong types', data: out, binary: false, expect: { error: ['invalid_message'] } }
  }
}

function hugeString(rng: Rng, identified: boolean): FuzzFrame {
  // Longer, in characters, than any limit (text fields 16 KiB); at most 6 bytes each once
  // escaped, so the frame stays under 256 KiB.
  const s = rng.pick(['x', 'é', '\u20ac', '"', '\\', '\u0000']).repeat(rng.int(16 * 1024 + 1, 40_000))
  switch (rng.int(0, 4)) {
    case 0: return { category: 'huge strings', data: JSON.stringify({ type: 'task_failed', task_id: 't', error: s }), binary: false, expect: { error: ['invalid_message'] } }
    case 1: return { category: 'huge strings', data: JSON.stringify({ type: 'task_accepted', task_id: s }), binary: false, expect: { error: ['invalid_message'] } }
    case 2: return { category: 'huge strings', data: JSON.stringify({ type: s }), binary: false, expect: { error: ['unknown_type'] } }
    // Decoded before anything else: too long a token is a bad frame, identified or not.
    case 3: return { category: 'huge strings', data: JSON.stringify({ type: 'identify', agent_id: 'a', token: s, protocol_version: 1, pm2_info: null, supervised: true }), binary: false, expect: { error: ['invalid_message'] } }
    // Unknown fields are ignored: a ping padded with a huge string is still a ping.
    default: return { category: 'huge strings', data: JSON.stringify({ type: 'ping', pad: s }), binary: false, expect: answerTo({ type: 'ping' }, identified) }
  }
}

function deeplyNested(rng: Rng, identified: boolean): FuzzFrame {
  const depth = rng.pick([64, 1000, 5000, rng.int(1, 100_000), 120_000])
  const arrays = `${'['.repeat(depth)}${']'.repeat(depth)}`
  const objects = `${'{"a":'.repeat(Math.min(depth, 40_000))}1${'}'.repeat(Math.min(depth, 40_000))}`
  switch (rng.int(0, 4)) {
    case 0: return { category: 'deeply nested JSON', data: arrays, binary: false, expect: { error: ['invalid_message'] } }
    case 1: return { category: 'deeply nested JSON', data: objects, binary: false, expect: { error: ['unknown_type'] } }
    // A type no one can describe: unknown_type, or invalid_message when it is too deep to quote.
    case 2: return { category: 'deeply nested JSON', data: `{"type":${arrays}}`, binary: false, expect: { error: ['unknown_type', 'invalid_message'] } }
    case 3: return { category: 'deeply nested JSON', data: `{"type":"ping","x":${arrays}}`, binary: false, expect: answerTo({ type: 'ping' }, identified) }
    default: return {
      category: 'deeply nested JSON', data: `{"type":"task_complete","task_id":"no-such-task","result":${objects}}`, binary: false,
      expect: answerTo({ type: 'task_complete' }, identified),
    }
  }
}

function truncated(rng: Rng): FuzzFrame {
  const text = JSON.stringify(validMessage(rng))
  // A proper prefix of a JSON object is never valid JSON.
  return { category: 'truncated JSON', data: text.slice(0, rng.int(1, text.length - 1)), binary: false, expect: { error: ['invalid_json'] } }
}

function randomText(rng: Rng): FuzzFrame {
  for (;;) {
    const text = rng.text(rng.int(0, 2048))
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      return { category: 'random text', data: text, binary: false, expect: { error: ['invalid_json'] } }
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return { category: 'random text', data: text, binary: false, expect: { error: ['invalid_message'] } }
    }
  }
}

function randomBytes(rng: Rng): FuzzFrame {
  return { category: 'random bytes (binary frame)', data: rng.bytes(rng.int(0, 4096)), binary: true, expect: { error: ['invalid_message'] } }
}

function wellFormed(rng: Rng, identified: boolean): FuzzFrame {
  for (;;) {
    const msg = validMessage(rng)
    if (msg.type === 'identify' && !identified) continue // a real identify attempt: the auth tests cover it
    return { category: 'well-formed, unknown ids', data: JSON.stringify(msg), binary: false, expect: answerTo(msg, identified) }
  }
}

export function fuzzFrame(rng: Rng, identified: boolean): FuzzFrame {
  const r = rng.next()
  if (r < 0.15) return randomBytes(rng)
  if (r < 0.3) return randomText(rng)
  if (r < 0.45) return truncated(rng)
  if (r < 0.55) return deeplyNested(rng, identified)
  if (r < 0.8) return wrongType(rng)
  if (r < 0.88) return hugeString(rng, identified)
  return wellFormed(rng, identified)
}
