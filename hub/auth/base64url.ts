/**
 * Base64url (RFC 4648 §5) as a JWS spells it: no padding, and each byte string has exactly one
 * spelling (the unused low bits of the last character are zero). Decoded here by a table rather
 * than through atob(), which forgives `=`, whitespace and stray bits and, on Node 20, searches
 * an array for every character: an identify storm decodes three parts of one token per agent.
 */
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** Each ASCII character's six bits, -1 for a character outside the alphabet. */
const SEXTETS = new Int8Array(128).fill(-1)
for (let i = 0; i < ALPHABET.length; i++) SEXTETS[ALPHABET.charCodeAt(i)] = i

function sextet(text: string, at: number): number {
  const code = text.charCodeAt(at)
  return code < 128 ? SEXTETS[code] : -1
}

/**
 * The bytes of `text` if it is their one base64url spelling, else null. Any character outside
 * the alphabet makes its group negative (a -1 shifted left keeps the sign bit).
 */
export function canonicalBase64Url(text: string): Uint8Array | null {
  const length = text.length
  const rest = length % 4
  if (rest === 1) return null
  const bytes = new Uint8Array((length >> 2) * 3 + (rest === 0 ? 0 : rest - 1))
  let at = 0
  let out = 0
  for (; at + 4 <= length; at += 4) {
    const group = (sextet(text, at) << 18) | (sextet(text, at + 1) << 12) | (sextet(text, at + 2) << 6) | sextet(text, at + 3)
    if (group < 0) return null
    bytes[out++] = group >> 16
    bytes[out++] = (group >> 8) & 0xff
    bytes[out++] = group & 0xff
  }
  if (rest === 2) {
    const group = (sextet(text, at) << 6) | sextet(text, at + 1)
    if (group < 0 || (group & 0b1111) !== 0) return null
    bytes[out] = group >> 4
  } else if (rest === 3) {
    const group = (sextet(text, at) << 12) | (sextet(text, at + 1) << 6) | sextet(text, at + 2)
    if (group < 0 || (group & 0b11) !== 0) return null
    bytes[out++] = group >> 10
    bytes[out] = (group >> 2) & 0xff
  }
  return bytes
}
