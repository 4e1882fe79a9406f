/**
 * `GET /api/admin/tasks/:task_id/output`: what the task has written, the last 1 MiB at most; with
 * `?follow=1`, Server-Sent Events: `event: output` for each chunk from the start of what is kept,
 * live while the task runs, then `event: end` with the final Task. The same code on both stores:
 * a follower reads the store every FOLLOW_POLL_MS, so in cluster mode it follows a task running on
 * an agent of any hub.
 */
import { Hono } from 'hono'
import { streamSSE } from 'hono/streaming'
import { noStore } from '../security/no-store.ts'
import * as v from 'valibot'
import { ERROR } from '../../shared/protocol.ts'
import type { AdminBackend } from '../api/admin.ts'
import { params, query } from '../api/validate.ts'
import { isFinished } from './rules.ts'
import type { StoredChunk, TaskOutputStore } from './output.ts'

export const FOLLOW_POLL_MS = 200
const KEEP_ALIVE_MS = 15_000
/** Followers at once on this hub; past it 503 too_many_clients. */
export const MAX_FOLLOWERS = 256

const TaskParam = v.object({ task_id: v.pipe(v.string(), v.minLength(1), v.maxLength(128)) })
const OutputQuery = v.object({ follow: v.optional(v.picklist(['1', 'true', '0', 'false'])) })

const view = ({ seq: _seq, ...chunk }: StoredChunk) => chunk

export function outputRoutes({ admin, outputs, signal }: { admin: AdminBackend; outputs: TaskOutputStore; signal: AbortSignal }) {
  let followers = 0
  return new Hono().get('/tasks/:task_id/output', params(TaskParam), query(OutputQuery), async (c) => {
    const taskId = c.req.valid('param').task_id
    const task = await admin.getTask(taskId)
    if (!task) return c.json({ error: ERROR.TASK_NOT_FOUND }, 404)
    const follow = c.req.valid('query').follow
    if (follow !== '1' && follow !== 'true') {
      const read = await outputs.read(taskId, 0)
      return c.json({ task_id: taskId, output: read.chunks.map(view), truncated: read.truncated }, 200)
    }
    if (followers >= MAX_FOLLOWERS) return c.json({ error: 'too_many_clients' }, 503)
    followers++
    return noStore(streamSSE(c, async (stream) => {
      let after = 0
      let lastWrite = Date.now()
      const gone = () => stream.aborted || stream.closed || signal.aborted
      try {
        for (;;) {
          // Read before the task: a chunk stored before the task finished is sent before `end`.
          const read = await outputs.read(taskId, after)
          for (const chunk of read.chunks) {
            await stream.writeSSE({ event: 'output', data: JSON.stringify(view(chunk)) })
            after = chunk.seq
            lastWrite = Date.now()
          }
          const now = await admin.getTask(taskId)
          if (!now || isFinished(now.status)) {
            await outputs.written(taskId)
            for (const chunk of (await outputs.read(taskId, after)).chunks) {
              await stream.writeSSE({ event: 'output', data: JSON.stringify(view(chunk)) })
            }
            await stream.writeSSE({ event: 'end', data: JSON.stringify(now ?? task) })
            return
          }
          if (gone()) return
          if (Date.now() - lastWrite >= KEEP_ALIVE_MS) {
            await stream.write(': keep-alive\n\n')
            lastWrite = Date.now()
          }
          await stream.sleep(FOLLOW_POLL_MS)
          if (gone()) return
        }
      } finally {
        followers--
      }
    }, async (err, stream) => {
      // A follower whose store read failed (the database gone): the stream ends; it may follow again.
      await stream.writeSSE({ event: 'error', data: JSON.stringify({ error: String(err).slice(0, 200) }) }).catch(() => {})
    }))
  })
}
