/**
 * Task control on a real hub and real sidecars under a real pm2: a cancelled task that ignores
 * SIGTERM is killed with its child once the sidecar's grace is over, and a labelled task runs
 * only on the agent with the labels.
 */
import { readFileSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { createPm2Sandbox, type Pm2Sandbox } from '../../support/pm2.ts'
import { waitFor } from '../../support/wait.ts'
import { followOutput } from '../../support/task-control-suite.ts'

const GRACE_MS = 2000

let hub: HubProcess
let pm2: Pm2Sandbox
let script: string

/**
 * A task command. `{"mode":"trap"}` ignores SIGTERM and starts a child that ignores it too; each
 * notes a SIGTERM in `terms`, and the pids are written once the child's trap is set. Else it echoes.
 */
const TASK = `
import { spawn } from 'node:child_process'
import { appendFileSync, renameSync, writeFileSync } from 'node:fs'
let text = ''
for await (const chunk of process.stdin) text += chunk
const task = JSON.parse(text)
if (task.input.mode === 'trap') {
  process.on('SIGTERM', () => appendFileSync(task.input.terms, 'task\\n'))
  // \`wait\` returns as a trapped signal arrives, so the trap runs at once, not after a sleep.
  const child = spawn('/bin/sh', ['-c', 'trap "echo child >> \\"$TERMS\\"" TERM; echo ready; while :; do sleep 1 & wait $!; done'], {
    stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, TERMS: task.input.terms },
  })
  // Written aside and renamed into place: the test reads it whole or not at all.
  child.stdout.once('data', () => {
    writeFileSync(task.input.pids + '.tmp', JSON.stringify([process.pid, child.pid]))
    renameSync(task.input.pids + '.tmp', task.input.pids)
  })
  setInterval(() => {}, 1000)
} else if (task.input.mode === 'print') {
  for (let i = 1; i <= task.input.lines; i++) {
    process.stdout.write(\`line \${i}\\n\`)
    await new Promise((resolve) => setTimeout(resolve, task.input.every_ms))
  }
} else {
  process.stdout.write(JSON.stringify({ echo: task.input, agent: process.env.AGENT_NAME ?? null }))
}
`

beforeAll(async () => {
  hub = await startHubProcess()
  pm2 = await createPm2Sandbox()
  script = join(pm2.home, 'task.mjs')
  await writeFile(script, TASK)
  const command = `"${process.execPath}" "${script}"`
  await pm2.startSidecar('k-plain', {
    AGENTCOM_HUB_URL: hub.wsUrl, AGENTCOM_TOKEN: await hub.agentToken('k-plain'), AGENTCOM_TASK_COMMAND: command,
    AGENTCOM_CANCEL_GRACE_MS: String(GRACE_MS),
  })
  await pm2.startSidecar('k-gpu', {
    AGENTCOM_HUB_URL: hub.wsUrl, AGENTCOM_TOKEN: await hub.agentToken('k-gpu'), AGENTCOM_TASK_COMMAND: command,
    AGENTCOM_LABELS: 'gpu,zone=eu-west',
  })
  for (const id of ['k-plain', 'k-gpu']) await waitFor(() => agent(id), (a) => a.status === 'idle', { what: `${id} idle` })
})

afterAll(async () => {
  await pm2?.kill()
  await hub?.stop()
})

const agent = async (id: string) => (await hub.api('GET', `/api/admin/agents/${id}`)).body
const task = async (id: string) => (await hub.api('GET', `/api/admin/tasks/${id}`)).body
const submit = async (body: unknown) => {
  const res = await hub.api('POST', '/api/admin/tasks', body)
  expect(res.status).toBe(201)
  return res.body
}
/** Running: a zombie (killed, waiting for whoever reaps orphans) is dead. */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

describe('task control under a real pm2', () => {
  it('cancel: SIGTERM ignored, the task and its child are killed once the grace is over; the agent then takes the next task', async () => {
    const pids = join(pm2.home, 'pids.json')
    const terms = join(pm2.home, 'terms.txt')
    const t = await submit({ input: { mode: 'trap', pids, terms }, agent_id: 'k-plain' })
    const [taskPid, childPid] = await waitFor(
      () => readFile(pids, 'utf8').then((text) => JSON.parse(text) as number[], () => null), (p) => p !== null, { what: 'the task\'s pids' },
    ) as number[]
    const cancelledAt = Date.now()
    const answer = await hub.api('POST', `/api/admin/tasks/${t.task_id}/cancel`)
    expect(answer).toMatchObject({ status: 200, body: { task_id: t.task_id, status: 'cancelled' } })
    // SIGTERM reached them and was ignored: both still run within the grace.
    await waitFor(() => readFile(terms, 'utf8').catch(() => ''), (text) => text.includes('task') && text.includes('child'), { what: 'SIGTERM in both' })
    expect([alive(taskPid), alive(childPid)]).toEqual([true, true])
    await waitFor(async () => [alive(taskPid), alive(childPid)], (a) => !a[0] && !a[1], { what: 'the task and its child gone', timeoutMs: GRACE_MS + 5000 })
    expect(Date.now() - cancelledAt).toBeGreaterThanOrEqual(GRACE_MS - 100)
    await waitFor(() => agent('k-plain'), (a) => a.status === 'idle', { what: 'k-plain idle again' })
    const next = await submit({ input: { n: 1 }, agent_id: 'k-plain' })
    await waitFor(() => task(next.task_id), (x) => x.status === 'completed', { what: 'the next task completed' })
    expect(await task(t.task_id)).toMatchObject({ status: 'cancelled', attempts: 1 })
  })

  it('output followed over SSE arrives while the task runs, in order, and ends with event: end', async () => {
    const t = await submit({ input: { mode: 'print', lines: 20, every_ms: 100 }, agent_id: 'k-gpu' })
    const events = followOutput(`${hub.url}/api/admin/tasks/${t.task_id}/output?follow=1`, await hub.adminToken())
    const text: string[] = []
    let first: any = null
    for (;;) {
      const e = await events.next()
      if (e.event === 'end') {
        expect(e.data).toMatchObject({ task_id: t.task_id, status: 'completed' })
        break
      }
      expect(e.event).toBe('output')
      expect(e.data.stream).toBe('stdout')
      if (first === null) first = await task(t.task_id)
      text.push(e.data.data)
    }
    // The first output came while the task still ran (20 lines over 2 s).
    expect(first.status).toBe('working')
    expect(text.join('')).toBe(Array.from({ length: 20 }, (_, i) => `line ${i + 1}\n`).join(''))
    expect((await task(t.task_id)).result).toBe(text.join('').trim())
  })

  it('a labelled task runs only on the agent with every label; the agent list filters by label', async () => {
    expect((await agent('k-gpu')).labels).toEqual(['gpu', 'zone=eu-west'])
    expect((await hub.api('GET', '/api/admin/agents?label=gpu&label=zone=eu-west')).body.agents.map((a: any) => a.agent_id)).toEqual(['k-gpu'])
    const made = []
    for (let i = 0; i < 4; i++) made.push(await submit({ input: { i }, labels: ['zone=eu-west'] }))
    for (const t of made) {
      const done = await waitFor(() => task(t.task_id), (x) => x.status === 'completed', { what: 'labelled task completed' })
      expect(done.agent_id).toBe('k-gpu')
    }
  })
})
