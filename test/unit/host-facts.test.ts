/**
 * Host facts on one hub: the version and host a sidecar sends at identify are on its Agent,
 * `?version=` filters by them, and a sidecar of an earlier version that sends none still
 * identifies (version and host null).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Hub } from '../../hub/app.ts'
import { createTestHub } from '../../support/in-process-hub.ts'
import { mintToken } from '../../hub/auth/auth.ts'
import { hostFacts } from '../../shared/host-facts.ts'
import { decodeSidecarMessage } from '../../shared/protocol.ts'
import { silentLogger } from '../../shared/log.ts'

const SECRET = 'h'.repeat(40)
let hub: Hub
let admin: string

beforeEach(async () => {
  hub = createTestHub({ secret: SECRET, log: silentLogger })
  admin = (await mintToken(SECRET, { role: 'admin' })).token
})
afterEach(() => hub.close())

const peer = { send: () => {}, close: () => {} }
const get = async (path: string) => (await hub.app.request(path, { headers: { authorization: `Bearer ${admin}` } })).json() as Promise<any>
const identify = { type: 'identify', agent_id: 'a-1', token: 't', protocol_version: 1, pm2_info: null, supervised: true }
const facts = { version: '1.2.3', node_version: 'v20.11.1', hostname: 'box', platform: 'linux', arch: 'arm64' }

describe('host facts', () => {
  it('are optional in identify, and bounded', () => {
    expect(decodeSidecarMessage(JSON.stringify(identify))).toMatchObject({ ok: true })
    expect(decodeSidecarMessage(JSON.stringify({ ...identify, ...facts }))).toMatchObject({ ok: true, value: facts })
    expect(decodeSidecarMessage(JSON.stringify({ ...identify, hostname: 'x'.repeat(256) }))).toMatchObject({ ok: false })
    expect(decodeSidecarMessage(JSON.stringify({ ...identify, version: 7 }))).toMatchObject({ ok: false })
  })

  it('make the Agent\'s version and host; none sent gives null for both', async () => {
    hub.fleet.identify('new-1', peer, { supervised: true, instance_id: 'i', pm2_info: null, ...hostFacts(facts) })
    hub.fleet.identify('old-1', peer, { supervised: true, instance_id: 'j', pm2_info: null, ...hostFacts({}) })
    expect(await get('/api/admin/agents/new-1')).toMatchObject({
      version: '1.2.3', host: { hostname: 'box', platform: 'linux', arch: 'arm64', node_version: 'v20.11.1' },
    })
    expect(await get('/api/admin/agents/old-1')).toMatchObject({ version: null, host: null })
    expect((await get('/api/admin/agents?version=1.2.3')).agents.map((a: any) => a.agent_id)).toEqual(['new-1'])
    expect((await get('/api/admin/agents?version=1.2.3&limit=1')).agents.map((a: any) => a.agent_id)).toEqual(['new-1'])
    expect((await get('/api/admin/agents?version=0.0.1')).agents).toEqual([])
  })
})
