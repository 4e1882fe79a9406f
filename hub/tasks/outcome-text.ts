/**
 * Task outcomes as the hub stores them, the same on one hub and in a cluster. A task's input and
 * result are any JSON, kept exactly on both stores (as JSON text: the file's, PostgreSQL's json
 * columns), U+0000 and lone UTF-16 surrogates included. Other text a sidecar reports (an error,
 * output, its own facts) goes into PostgreSQL's text, which can hold neither, so such a string
 * could never be stored there (never acknowledged, resent forever). Both stores get the same text
 * instead: each such character in a string (or an object key) becomes U+FFFD, the replacement
 * character. A request is another matter: it can be refused, so one holding such text outside a
 * task's input is (400, validate.ts), and what the hub accepts reads back exactly as sent.
 */

import { MAX_RESULT_BYTES, RESULT_TOO_LARGE, jsonBytes, type TaskOutcome } from '../../shared/protocol.ts'

type Reported = Exclude<TaskOutcome, { kind: 'interrupted' }>

/**
 * The result limit, the same on both stores: a result over MAX_RESULT_BYTES of JSON fails its
 * task with `result_too_large` (the sidecar checks too; this holds for any client on the socket),
 * one nested too deeply to measure fails saying so.
 */
export function withinResultLimit(outcome: Reported): Reported {
  if (outcome.kind !== 'complete') return outcome
  const bytes = jsonBytes(outcome.result)
  if (bytes === Infinity) return { kind: 'failed', error: 'result cannot be stored: nested too deeply' }
  return bytes > MAX_RESULT_BYTES ? { kind: 'failed', error: RESULT_TOO_LARGE } : outcome
}

/** U+0000, a high surrogate with no low one after it, or a low one with no high one before it. */
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, 'g')
const REPLACEMENT = '\uFFFD'

/**
 * Whether a JSON text may parse to such a character: only through a \u escape, since JSON
 * forbids a raw U+0000 in a string and UTF-8 cannot carry a lone surrogate. Texts without one
 * (nearly all) need no walk.
 */
export function mayHoldUnstorable(json: string): boolean {
  return /\\u(?:0000|[dD][89a-fA-F])/.test(json)
}

/** A sidecar's frame as the hub keeps it: storableText, except a task's result, which is kept exactly. */
export function storableFrame<T extends { type: string }>(frame: T): T {
  if (frame.type !== 'task_complete' || !('result' in frame)) return storableText(frame)
  return Object.assign(storableText({ ...frame, result: null }), { result: frame.result })
}

/** `value` with every unstorable character in its strings and keys replaced by U+FFFD; `value` itself when none. */
export function storableText<T>(value: T): T {
  try {
    return hasUnstorable(value) ? replaceUnstorable(value) as T : value
  } catch {
    // Nested too deeply to walk: the result limit (withinResultLimit) fails such a result anyway.
    return value
  }
}

function hasUnstorable(value: unknown): boolean {
  if (typeof value === 'string') return UNSTORABLE.test(value)
  if (Array.isArray(value)) return value.some(hasUnstorable)
  if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) if (UNSTORABLE.test(key) || hasUnstorable(inner)) return true
  }
  return false
}

function replaceUnstorable(value: unknown): unknown {
  if (typeof value === 'string') return value.replace(UNSTORABLE_ALL, REPLACEMENT)
  if (Array.isArray(value)) return value.map(replaceUnstorable)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key.replace(UNSTORABLE_ALL, REPLACEMENT), replaceUnstorable(inner)]))
  }
  return value
}

/**
 * Where `value` holds unstorable text, in a string or a key: the path of keys to it (a key
 * itself last, its unstorable characters replaced); null when nowhere, or when nested too deeply
 * to walk (the size checks refuse such a request anyway).
 */
export function unstorablePath(value: unknown): string[] | null {
  try {
    return findUnstorable(value, [])
  } catch {
    return null
  }
}

function findUnstorable(value: unknown, path: string[]): string[] | null {
  if (typeof value === 'string') return UNSTORABLE.test(value) ? path : null
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorable(value[i], [...path, String(i)])
      if (found) return found
    }
    return null
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (UNSTORABLE.test(key)) return [...path, key.replace(UNSTORABLE_ALL, REPLACEMENT)]
      const found = findUnstorable(inner, [...path, key])
      if (found) return found
    }
  }
  return null
}
