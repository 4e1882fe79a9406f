/** The rows a cluster hub's task changes left, for their events (hub/cluster/task-rows.ts). */
import { describe, expect, it } from 'vitest'
import { TaskRows } from '../../hub/cluster/task-rows.ts'
import type { TaskRow } from '../../hub/pg/task-queue.ts'

const row = (task_id: string, status: TaskRow['status']) => ({ task_id, status }) as TaskRow

describe('TaskRows', () => {
  it('gives the row of the last change once, then null (shown); a change without its row drops the older one', () => {
    const rows = new TaskRows()
    rows.note('t1', row('t1', 'assigned'))
    rows.note('t1', row('t1', 'working'))
    expect(rows.take('t1')?.status).toBe('working')
    expect(rows.take('t1')).toBeNull()
    rows.note('t1', row('t1', 'completed'))
    expect(rows.take('t1')?.status).toBe('completed')
    rows.note('t1', undefined)
    expect(rows.take('t1')).toBeUndefined()
    rows.note('t2', row('t2', 'queued'))
    rows.note('t2', undefined)
    expect(rows.take('t2')).toBeUndefined()
  })

  it('keeps a finished row over a late row of before (an accept racing the outcome)', () => {
    const rows = new TaskRows()
    rows.note('t1', row('t1', 'completed'))
    rows.note('t1', row('t1', 'working'))
    expect(rows.take('t1')?.status).toBe('completed')
  })

  it('keeps at most 10 000 rows, the oldest going first', () => {
    const rows = new TaskRows()
    for (let i = 0; i <= 10_000; i++) rows.note(`t${i}`, row(`t${i}`, 'queued'))
    expect(rows.take('t0')).toBeUndefined()
    expect(rows.take('t1')?.task_id).toBe('t1')
    expect(rows.take('t10000')?.task_id).toBe('t10000')
  })
})
