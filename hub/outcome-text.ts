/**
 * Task outcomes as the hub stores them, the same on one hub and in a cluster. PostgreSQL can
 * hold no U+0000 in text or jsonb, so a result or error holding it could never be stored there
 * (never acknowledged, resent forever). Both stores get the same text instead: each U+0000 in a
 * string (or an object key) becomes U+FFFD, the replacement character.
 */

const NUL = '\u0000'
const REPLACEMENT = '\uFFFD'

/** `value` with every U+0000 in its strings and keys replaced by U+FFFD; `value` itself when none. */
export function withoutNul<T>(value: T): T {
  return hasNul(value) ? replaceNul(value) as T : value
}

function hasNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes(NUL)
  if (Array.isArray(value)) return value.some(hasNul)
  if (value !== null && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) if (key.includes(NUL) || hasNul(inner)) return true
  }
  return false
}

function replaceNul(value: unknown): unknown {
  if (typeof value === 'string') return value.replaceAll(NUL, REPLACEMENT)
  if (Array.isArray(value)) return value.map(replaceNul)
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key.replaceAll(NUL, REPLACEMENT), replaceNul(inner)]))
  }
  return value
}
