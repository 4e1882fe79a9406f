/**
 * The agents a memory-store claim gives tasks to (hub/tasks/waiting-agents.ts): the first in the
 * order given that may run the task, each at most once, read from the list only as far as needed.
 */
import { describe, expect, it } from 'vitest'
import { WaitingAgents } from '../../hub/tasks/waiting-agents.ts'

const labels: Record<string, readonly string[] | null> = { a: [], b: ['gpu'], c: ['gpu', 'eu'], off: null }
const task = (pinned: string | null, wanted: string[] = []) => ({ pinned, labels: wanted })

describe('WaitingAgents', () => {
  it('gives each task the first agent in the order given that may run it: its pin, then its labels', () => {
    const waiting = new WaitingAgents(['off', 'a', 'b', 'c'], (id) => labels[id])
    expect(waiting.take(task(null, ['eu']))).toBe('c')
    expect(waiting.take(task('c'))).toBeUndefined()
    expect(waiting.take(task(null, ['gpu']))).toBe('b')
    expect(waiting.take(task('off'))).toBeUndefined()
    expect(waiting.empty).toBe(false)
    expect(waiting.take(task(null))).toBe('a')
    expect(waiting.empty).toBe(true)
  })

  it('gives an agent named twice one task', () => {
    const waiting = new WaitingAgents(['a', 'a'], (id) => labels[id])
    expect(waiting.take(task(null))).toBe('a')
    expect(waiting.take(task(null))).toBeUndefined()
    expect(waiting.empty).toBe(true)
  })

  it('reads the list only as far as the tasks need', () => {
    const read: string[] = []
    const waiting = new WaitingAgents(['a', 'b', 'c'], (id) => (read.push(id), labels[id]))
    expect(waiting.take(task(null))).toBe('a')
    expect(read).toEqual(['a'])
  })
})
