/**
 * The Node hub's token MAC (hub/node/token-mac.ts) is HMAC-SHA256 built from two one-shot
 * hashes: it must equal node:crypto's createHmac for every key length (shorter than, exactly,
 * and longer than SHA-256's 64-byte block, which is hashed first) and every input, call after call.
 */
import { createHmac } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { nodeTokenMac } from '../../hub/node/token-mac.ts'

const inputs = ['', 'a', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ3LTEifQ', 'x'.repeat(5000), 'é\u2028\ud83d\ude00 non-ASCII']

describe('the Node token MAC', () => {
  it.each(['s', 'u'.repeat(40), 'k'.repeat(64), 'l'.repeat(65), 'z'.repeat(300), 'sécret-ü'])('is HMAC-SHA256 under the secret %#', (secret) => {
    const mac = nodeTokenMac(secret)
    // Twice over: the buffers it reuses must not carry one call into the next.
    for (const input of [...inputs, ...[...inputs].reverse()]) {
      expect(Buffer.from(mac(input) as Uint8Array).toString('hex')).toBe(createHmac('sha256', secret).update(input).digest('hex'))
    }
  })
})
