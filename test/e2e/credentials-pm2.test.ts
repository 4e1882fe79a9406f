/**
 * Credentials on a real hub and real sidecars under a real pm2: a task never sees the hub's
 * secret, the sidecar's token or pm2's variables (even with the secret wrongly in the
 * sidecar's environment and every one of them listed in AGENTCOM_TASK_ENV) and runs in its
 * task dir; pm2 does not copy an exported secret into a sidecar; revoking an agent closes it
 * (4001) and keeps it out across a hub restart until it gets a new token; an expired admin
 * token is refused.
 */
import { readFile, realpath, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signAdminToken } from '../../hub/auth/auth.ts'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { createPm2Sandbox, type Pm2Sandbox } from '../../support/pm2.ts'
import { waitFor } from '../../support/wait.ts'

let hub: HubProcess
let pm2: Pm2Sandbox
const PRINT_ENV = `"${process.execPath}" -e 'process.stdout.write(JSON.stringify({ env: process.env, cwd: process.cwd() }))'`

beforeAll(async () => {
  hub = await startHubProcess()
  pm2 = await createPm2Sandbox()
})

afterAll(async () => {
  await pm2?.kill()
  await hub?.stop()
})

const agent = async (id: string) => (await hub.api('GET', `/api/admin/agents/${id}`)).body
const environOf = async (pid: number) => (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0')
const outLog = (name: string) => readFile(join(pm2.home, 'logs', `${name}-out.log`), 'utf8').catch(() => '')

describe('what a task sees', () => {
  it('gets neither the secret, nor the token, nor pm2\'s variables, and runs in its task dir', async () => {
    const token = await hub.agentToken('env-1')
    // Wrongly configured on purpose: the secret reaches the sidecar (pm2's filter turned off),
    // and every forbidden name is listed for the tasks.
    await pm2.startSidecarWith('env-1', {
      AGENTCOM_HUB_URL: hub.wsUrl, AGENTCOM_TOKEN: token, AGENTCOM_SECRET: hub.secret, PM2_CUSTOM_VAR: 'pm2-var-value',
      SAFE_VAR: 'passed-on', AGENTCOM_TASK_COMMAND: PRINT_ENV,
      AGENTCOM_TASK_ENV: 'AGENTCOM_SECRET,AGENTCOM_TOKEN,AGENTCOM_TOKEN_FILE,PM2_CUSTOM_VAR,PM2_HOME,pm_id,name,NODE_APP_INSTANCE,unique_id,agentcom-env-1,SAFE_VAR',
    }, { filter_env: [] })
    await waitFor(() => agent('env-1'), (a) => a.status === 'idle', { what: 'env-1 idle' })
    const sidecarEnv = await environOf((await pm2.get('agentcom-env-1')).pid)
    // The test can fail: the sidecar itself does hold all of it.
    expect(sidecarEnv).toContain(`AGENTCOM_SECRET=${hub.secret}`)
    expect(sidecarEnv).toContain(`AGENTCOM_TOKEN=${token}`)
    expect(sidecarEnv.some((kv) => kv.startsWith('pm_id='))).toBe(true)

    const created = (await hub.api('POST', '/api/admin/tasks', { input: {}, agent_id: 'env-1' })).body
    const task = await waitFor(() => hub.api('GET', `/api/admin/tasks/${created.task_id}`), (r) => r.body.status === 'completed', { what: 'task done' })
    const { env, cwd } = task.body.result
    const text = JSON.stringify(env)
    expect(text).not.toContain(hub.secret)
    expect(text).not.toContain(token)
    expect(text).not.toContain('pm2-var-value')
    const names = Object.keys(env)
    expect(names.filter((n) => /^(PM2_|pm_|axm_|km_)/.test(n) || ['name', 'NODE_APP_INSTANCE', 'unique_id', 'status', 'restart_time', 'agentcom-env-1'].includes(n))).toEqual([])
    expect(names.filter((n) => n.startsWith('AGENTCOM_'))).toEqual(['AGENTCOM_TASK_ID'])
    expect(env.SAFE_VAR).toBe('passed-on')
    expect(cwd).toBe(await realpath(join(pm2.dataDir, 'work', 'env-1')))
    // The sidecar said at start which listed names it will never pass on.
    expect(await outLog('agentcom-env-1')).toContain('AGENTCOM_TASK_ENV lists variables that are never passed to tasks')
  })

  it('a sidecar from the ecosystem file does not even hold a secret exported in pm2\'s environment', async () => {
    await pm2.startSidecar('env-2', { AGENTCOM_HUB_URL: hub.wsUrl, AGENTCOM_TOKEN: await hub.agentToken('env-2'), AGENTCOM_SECRET: hub.secret })
    await waitFor(() => agent('env-2'), (a) => a.status === 'idle', { what: 'env-2 idle' })
    const sidecarEnv = await environOf((await pm2.get('agentcom-env-2')).pid)
    expect(sidecarEnv.some((kv) => kv.startsWith('AGENTCOM_SECRET='))).toBe(false)
    expect(sidecarEnv.join('\n')).not.toContain(hub.secret)
  })
})

describe('revoking an agent', () => {
  it('closes it with 4001 and keeps it out across a hub restart, until it is given a new token', async () => {
    const tokenFile = join(pm2.home, 'rv-1.token')
    await writeFile(tokenFile, `${await hub.agentToken('rv-1')}\n`, { mode: 0o600 })
    await pm2.startSidecar('rv-1', { AGENTCOM_HUB_URL: hub.wsUrl, AGENTCOM_TOKEN_FILE: tokenFile })
    await waitFor(() => agent('rv-1'), (a) => a.status === 'idle', { what: 'rv-1 idle' })

    const revoked = await hub.api('POST', '/api/admin/agents/rv-1/revoke')
    expect(revoked).toMatchObject({ status: 200, body: { agent_id: 'rv-1', revoked_before: expect.any(Number) } })
    // The sidecar saw close 4001 (it logs that the hub refused its token) and is offline.
    await waitFor(() => outLog('agentcom-rv-1'), (log) => log.includes('"msg":"hub refused the token"'), { what: 'rv-1 refused' })
    expect(await agent('rv-1')).toMatchObject({ connected: false })

    const port = new URL(hub.url).port
    await hub.stop()
    hub = await startHubProcess({ PORT: port }, undefined, { secret: hub.secret, dataDir: hub.dataDir })
    expect(hub.logs.join('\n')).toContain('"msg":"revocations restored"')
    // Restarted, the sidecar comes back at once with its old token: refused, with its address logged.
    await pm2.pm2(['restart', 'agentcom-rv-1'])
    await waitFor(async () => hub.logs.join('\n'), (logs) => /"msg":"identify refused","agent_id":"rv-1","peer":"127\.0\.0\.1:\d+","reason":"revoked"/.test(logs), { what: 'refused after restart' })
    expect((await hub.api('GET', '/api/admin/agents/rv-1')).status).toBe(404)

    // A token minted after the revoke (over the API) lets it in again.
    const fresh = await hub.api('POST', '/api/admin/agents/rv-1/tokens', { ttl_s: 3600 })
    expect(fresh).toMatchObject({ status: 201, body: { agent_id: 'rv-1', expires_at: expect.any(Number) } })
    await writeFile(tokenFile, `${fresh.body.token}\n`)
    await pm2.pm2(['restart', 'agentcom-rv-1'])
    await waitFor(() => agent('rv-1'), (a) => a.connected === true, { what: 'rv-1 back', timeoutMs: 30_000 })
    expect(hub.logs.join('\n')).not.toContain(fresh.body.token)
  })
})

describe('an expired admin token', () => {
  it('is refused once its time is up', async () => {
    // 3 s: a 1 s token signed late in its second could expire before a first request on a loaded
    // machine got its answer (CI once saw 401 there).
    const short = await signAdminToken(hub.secret, 3)
    const get = () => fetch(`${hub.url}/api/admin/agents`, { headers: { authorization: `Bearer ${short}` } })
    expect((await get()).status).toBe(200)
    // The token's own expiry is what is awaited: at most 4 s.
    const res = await waitFor(get, (r) => r.status === 401, { what: 'expiry', timeoutMs: 8000, intervalMs: 200 })
    expect(await res.json()).toEqual({ error: 'unauthorized' })
    await waitFor(async () => hub.logs, (logs) => logs.some((l) => l.includes('"msg":"admin request refused"') && l.includes('"reason":"expired"')), { what: 'the refusal logged' })
  })
})
