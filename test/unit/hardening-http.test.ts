/**
 * Hardening (v3) of the HTTP side on the portable app: security headers on every answer, a
 * token refused unless its signature is spelled in canonical base64url, and the secret file
 * refused when group or others can open it.
 */
import { chmod, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { waitUntil } from '../../support/wait.ts'
import { createTestHub, type OneHub } from '../../support/in-process-hub.ts'
import { createTokenVerifier, signAdminToken, signAgentToken } from '../../hub/auth/auth.ts'
import { canonicalBase64Url } from '../../hub/auth/base64url.ts'
import { ensureSecret } from '../../hub/auth/secret.ts'
import { nodeSecretFiles } from '../../hub/node/platform.ts'
import { silentLogger } from '../../shared/log.ts'

const SECRET = 's'.repeat(40)
let hub: OneHub | null = null
afterEach(() => {
  hub?.close()
  hub = null
})

describe('security headers', () => {
  async function answers() {
    hub = createTestHub({ secret: SECRET, log: silentLogger })
    const admin = { authorization: `Bearer ${await signAdminToken(SECRET)}` }
    return {
      health: await hub.app.request('/health'),
      agents: await hub.app.request('/api/admin/agents', { headers: admin }),
      unauthorized: await hub.app.request('/api/admin/agents'),
      invalid: await hub.app.request('/api/admin/tasks', { method: 'POST', headers: admin, body: '[' }),
      notFound: await hub.app.request('/nothing'),
      dashboard: await hub.app.request('/'),
      script: await hub.app.request('/dashboard.js'),
    }
  }

  it('marks every API answer no-store and nosniff, errors included', async () => {
    const { dashboard: _d, script: _s, ...api } = await answers()
    for (const [name, res] of Object.entries(api)) {
      expect([name, res.headers.get('cache-control'), res.headers.get('x-content-type-options')]).toEqual([name, 'no-store', 'nosniff'])
    }
    expect(api.unauthorized.status).toBe(401)
    expect(api.invalid.status).toBe(400)
  })

  it('forbids framing the dashboard (X-Frame-Options: DENY) and keeps nosniff on its assets', async () => {
    const { dashboard, script } = await answers()
    expect(dashboard.headers.get('x-frame-options')).toBe('DENY')
    expect(dashboard.headers.get('x-content-type-options')).toBe('nosniff')
    expect(script.headers.get('x-content-type-options')).toBe('nosniff')
  })
})

describe('token signatures: canonical base64url only', () => {
  const verify = createTokenVerifier(SECRET)
  /** The same signature bytes, spelled with the last character's unused low bits set. */
  function strayBits(token: string): string {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    const last = alphabet.indexOf(token.at(-1)!)
    // 32 bytes are 43 characters: the last carries 4 bits of the signature and 2 unused ones.
    return token.slice(0, -1) + alphabet[last | 0b11]
  }

  it.each(['admin', 'agent'] as const)('accepts a %s token as minted, refuses it padded or with stray trailing bits', async (role) => {
    const token = role === 'admin' ? await signAdminToken(SECRET) : await signAgentToken(SECRET, 'a-1')
    expect((await verify(token, role)).ok).toBe(true)
    expect(await verify(`${token}=`, role)).toEqual({ ok: false, reason: 'malformed' })
    expect(await verify(`${token}==`, role)).toEqual({ ok: false, reason: 'malformed' })
    expect(strayBits(token)).not.toBe(token)
    expect(await verify(strayBits(token), role)).toEqual({ ok: false, reason: 'malformed' })
    expect(await verify(`${token.slice(0, -2)}+/`, role)).toEqual({ ok: false, reason: 'malformed' })
  })

  it('takes exactly the one spelling base64url gives any bytes, and no other', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
    for (let length = 0; length <= 34; length++) {
      const bytes = crypto.getRandomValues(new Uint8Array(length))
      const spelled = Buffer.from(bytes).toString('base64url')
      expect(canonicalBase64Url(spelled), spelled).toEqual(bytes)
      expect(canonicalBase64Url(`${spelled}=`)).toBeNull()
      if (spelled === '') continue
      // Every other last character: the same bytes with stray bits, or other bytes.
      for (const other of alphabet) {
        const variant = spelled.slice(0, -1) + other
        if (variant === spelled) continue
        const decoded = canonicalBase64Url(variant)
        if (decoded !== null) expect(Buffer.from(decoded).toString('base64url')).toBe(variant)
      }
    }
    expect(canonicalBase64Url('A')).toBeNull()
    expect(canonicalBase64Url('AB+/')).toBeNull()
  })

  it('refuses a padded admin token on an admin route with 401', async () => {
    hub = createTestHub({ secret: SECRET, log: silentLogger })
    const token = await signAdminToken(SECRET)
    expect((await hub.app.request('/api/admin/agents', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200)
    expect((await hub.app.request('/api/admin/agents', { headers: { authorization: `Bearer ${token}=` } })).status).toBe(401)
  })
})

describe('the hub-secret file', () => {
  async function secretFile(mode: number) {
    const dataDir = await mkdtemp(join(tmpdir(), 'agentcom-secret-'))
    await writeFile(join(dataDir, 'hub-secret'), `${'f'.repeat(64)}\n`)
    await chmod(join(dataDir, 'hub-secret'), mode)
    return dataDir
  }

  it.each([0o600, 0o400, 0o700])('is used at mode %s', async (mode) => {
    expect(await ensureSecret({ secret: null, dataDir: await secretFile(mode) }, nodeSecretFiles)).toBe('f'.repeat(64))
  })

  it.each([[0o640, '0640'], [0o644, '0644'], [0o604, '0604'], [0o660, '0660']])('is refused at mode %s, saying why', async (mode, octal) => {
    const dataDir = await secretFile(mode)
    const path = join(dataDir, 'hub-secret')
    await expect(ensureSecret({ secret: null, dataDir }, nodeSecretFiles)).rejects.toThrow(
      new Error(`${path} is open to group or others (mode ${octal}): make it readable by its owner only (chmod 600 ${path})`),
    )
  })

  it('is created 0600 when missing', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'agentcom-secret-'))
    const secret = await ensureSecret({ secret: null, dataDir }, nodeSecretFiles)
    expect(await nodeSecretFiles.mode!(join(dataDir, 'hub-secret'))).toBe(0o600)
    expect(await ensureSecret({ secret: null, dataDir }, nodeSecretFiles)).toBe(secret)
  })
})

describe('caps: event streams and queued tasks', () => {
  async function capped(options: { maxEventClients?: number; maxQueuedTasks?: number }) {
    hub = createTestHub({ secret: SECRET, log: silentLogger, ...options })
    const headers = { authorization: `Bearer ${await signAdminToken(SECRET)}`, 'content-type': 'application/json' }
    return {
      events: () => hub!.app.request('/api/admin/events', { headers }),
      task: () => hub!.app.request('/api/admin/tasks', { method: 'POST', headers, body: '{"input":1}' }),
    }
  }

  it('opens AGENTCOM_MAX_EVENT_CLIENTS streams, answers the next 503 too_many_clients, and takes one again once a stream ends', async () => {
    const { events } = await capped({ maxEventClients: 2 })
    const open = [await events(), await events()]
    expect(open.map((r) => r.status)).toEqual([200, 200])
    const refused = await events()
    expect(refused.status).toBe(503)
    expect(await refused.json()).toEqual({ error: 'too_many_clients' })
    await open[0].body!.cancel()
    await waitUntil(async () => {
      const again = await events()
      expect(again.status).toBe(200)
      open.push(again)
    })
    for (const res of open.slice(1)) await res.body!.cancel()
  })

  it('queues AGENTCOM_MAX_QUEUED_TASKS tasks, answers the next 503 queue_full and creates nothing', async () => {
    const { task } = await capped({ maxQueuedTasks: 3 })
    // Three at once: the ones not yet saved count too.
    const created = await Promise.all([task(), task(), task()])
    expect(created.map((r) => r.status)).toEqual([201, 201, 201])
    const before = hub!.tasks.size
    const refused = await task()
    expect(refused.status).toBe(503)
    expect(await refused.json()).toEqual({ error: 'queue_full' })
    expect(hub!.tasks.size).toBe(before)
  })

  it('counts tasks created at once before any is saved: never more than the cap', async () => {
    const { task } = await capped({ maxQueuedTasks: 5 })
    const answers = await Promise.all(Array.from({ length: 20 }, () => task()))
    expect(answers.filter((r) => r.status === 201)).toHaveLength(5)
    expect(answers.filter((r) => r.status === 503)).toHaveLength(15)
    expect(hub!.tasks.size).toBe(5)
  })
})

describe('a resumed event stream never answers an empty 200', () => {
  /** The stream's first `bytes` or more, or what came before it ended. */
  async function firstText(res: Response, bytes: number): Promise<{ text: string; ended: boolean }> {
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
    let text = ''
    for (;;) {
      const r = await reader.read()
      if (r.done) return { text, ended: true }
      text += r.value
      if (text.length >= bytes) {
        await reader.cancel()
        return { text, ended: false }
      }
    }
  }

  async function resume(maxQueuedBytes: number, events: number, eventBytes: number) {
    hub = createTestHub({
      secret: SECRET, log: silentLogger, eventStream: { maxQueuedBytes, batchMs: 0 },
    })
    for (let i = 0; i < events; i++) hub.events.publish('task', { task_id: `t-${i}`, result: 'r'.repeat(eventBytes) })
    const headers = { authorization: `Bearer ${await signAdminToken(SECRET)}`, 'last-event-id': `${hub.events.log.epoch}-0` }
    return hub.app.request('/api/admin/events', { headers })
  }

  it('replays what fits in the client\'s bound whole, in order', async () => {
    const res = await resume(64 * 1024, 5, 1000)
    const { text } = await firstText(res, 5 * 1000)
    expect(text.match(/^event: task$/gm)).toHaveLength(5)
    expect(text).not.toContain('event: reset')
  })

  it('sends event: reset first, and stays open, when the replay is larger than the bound', async () => {
    // 14 events of 180 KiB against the default 2 MiB, scaled down: 14 of 1 800 bytes against 16 KiB.
    const res = await resume(16 * 1024, 14, 1800)
    expect(res.status).toBe(200)
    const { text, ended } = await firstText(res, 40)
    expect(ended).toBe(false)
    expect(text).toBe(`: agentcom events\n\nid: ${hub!.events.log.lastId}\nevent: reset\ndata: {}\n\n`)
  })
})
