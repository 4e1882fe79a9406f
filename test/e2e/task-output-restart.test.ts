/**
 * A single hub keeps a task's output beside the task: written to the data dir within a second,
 * read back after a hub restart, and removed at start once the task is no longer kept.
 */
import { readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { startHubProcess, type HubProcess } from '../../support/hub-process.ts'
import { identifiedSocket, type TestSocket } from '../../support/ws-client.ts'
import { waitFor } from '../../support/wait.ts'

let hub: HubProcess | undefined
let socket: TestSocket | undefined

afterAll(async () => {
  socket?.close()
  await hub?.stop()
})

describe('task output across a hub restart (single hub)', () => {
  it('is there after the restart, in order, and an orphan file is removed', async () => {
    hub = await startHubProcess()
    socket = await identifiedSocket(hub.wsUrl, 'o-1', await hub.agentToken('o-1'))
    const t = (await hub.api('POST', '/api/admin/tasks', { input: {}, agent_id: 'o-1' })).body
    const assign = await socket.next('task_assign')
    socket.send({ type: 'task_accepted', task_id: assign.task_id })
    for (let i = 1; i <= 3; i++) socket.send({ type: 'task_output', task_id: t.task_id, stream: 'stdout', data: `line ${i}\n` })
    socket.send({ type: 'task_complete', task_id: t.task_id, result: 'ok' })
    await socket.next('task_ack')
    const before = (await hub.api('GET', `/api/admin/tasks/${t.task_id}/output`)).body
    expect(before.output.map((c: any) => c.data).join('')).toBe('line 1\nline 2\nline 3\n')
    const dir = join(hub.dataDir, 'task-output')
    await waitFor(() => readFile(join(dir, `${t.task_id}.json`), 'utf8').catch(() => ''), (text) => text.includes('line 3'), { what: 'the output file' })
    await writeFile(join(dir, 'forgotten-task.json'), '{"chunks":[],"truncated":false}')
    socket.close()
    const { secret, dataDir } = hub
    await hub.stop()
    hub = await startHubProcess({}, undefined, { secret, dataDir })
    expect((await hub.api('GET', `/api/admin/tasks/${t.task_id}/output`)).body).toEqual(before)
    await waitFor(() => readdir(dir), (names) => !names.includes('forgotten-task.json'), { what: 'the orphan removed' })
  })
})
