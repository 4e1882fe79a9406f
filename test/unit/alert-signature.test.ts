/**
 * Signed alert deliveries, checked the way a receiver would: a real HTTP server verifies
 * X-AgentCom-Signature-256 over the raw body with node:crypto, sees the same
 * X-AgentCom-Delivery on the retry of one alert and a new one for the next alert; without a
 * secret nothing is signed.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { waitUntil } from '../../support/wait.ts'
import { createAlertSender, type Alert } from '../../hub/alerts/alerts.ts'
import { silentLogger } from '../../shared/log.ts'

const SECRET = 'whsec-0123456789abcdef'

interface Delivery {
  raw: Buffer
  delivery: string | undefined
  signature: string | undefined
}

/** What a receiver does: HMAC the raw bytes it got, compare in constant time. */
function verifies(d: Delivery, secret: string): boolean {
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(d.raw).digest('hex')}`)
  const got = Buffer.from(d.signature ?? '')
  return got.length === expected.length && timingSafeEqual(got, expected)
}

async function receiver(failFirst: number) {
  const deliveries: Delivery[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      deliveries.push({
        raw: Buffer.concat(chunks),
        delivery: req.headers['x-agentcom-delivery'] as string | undefined,
        signature: req.headers['x-agentcom-signature-256'] as string | undefined,
      })
      res.statusCode = deliveries.length <= failFirst ? 503 : 204
      res.end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    deliveries,
    close: () => new Promise<void>((r) => server.close(() => r())),
  }
}

const offline: Alert = { type: 'agent_offline', agent_id: 'w-ü', detail: 'offline for 300 s', at: 1_767_225_600_000 }
const failed: Alert = { type: 'rollout_failed', rollout_id: 'r-1', agent_id: 'w-2', detail: 'w-2 did not come back', at: 1_767_225_601_000 }

describe('signed alert deliveries', () => {
  it('signs each delivery over its raw body, with one delivery id per alert kept across retries', async () => {
    const hook = await receiver(1)
    const sender = createAlertSender({ url: hook.url, secret: SECRET, log: silentLogger, firstDelayMs: 20 })
    try {
      sender.send(offline)
      sender.send(failed)
      await waitUntil(() => expect(hook.deliveries.length).toBe(3), { timeoutMs: 5000 })
      await waitUntil(() => expect(sender.pending).toBe(0))
      const [first, retry, second] = hook.deliveries
      for (const d of hook.deliveries) {
        expect(verifies(d, SECRET)).toBe(true)
        expect(verifies(d, `${SECRET}x`)).toBe(false)
        expect(d.delivery).toMatch(/^[0-9a-f-]{36}$/)
      }
      expect(JSON.parse(first.raw.toString('utf8'))).toEqual(offline)
      expect(retry.raw.equals(first.raw)).toBe(true)
      expect(retry.delivery).toBe(first.delivery)
      expect(second.delivery).not.toBe(first.delivery)
      expect(JSON.parse(second.raw.toString('utf8'))).toEqual(failed)
      // A body changed in transit no longer matches its signature.
      expect(verifies({ ...first, raw: Buffer.from(first.raw.toString('utf8').replace('300', '301')) }, SECRET)).toBe(false)
    } finally {
      sender.close()
      await hook.close()
    }
  })

  it('sends no signature without a secret, and still a delivery id', async () => {
    const hook = await receiver(0)
    const sender = createAlertSender({ url: hook.url, log: silentLogger })
    try {
      sender.send(offline)
      await waitUntil(() => expect(hook.deliveries.length).toBe(1), { timeoutMs: 5000 })
      expect(hook.deliveries[0].signature).toBeUndefined()
      expect(hook.deliveries[0].delivery).toMatch(/^[0-9a-f-]{36}$/)
    } finally {
      sender.close()
      await hook.close()
    }
  })
})
