import { describe, expect, it } from 'vitest'
import { chunkWriter } from '../../cli/operator/chunks.ts'

const sinks = () => {
  const got = { stdout: '', stderr: '' }
  return { got, io: { stdout: { write: (s: string) => (got.stdout += s) }, stderr: { write: (s: string) => (got.stderr += s) } } }
}
const chunk = (data: string, stream: 'stdout' | 'stderr' = 'stdout') => ({ stream, data, at: 0 })

describe('chunkWriter', () => {
  it('without a prefix writes chunks as they come; end() closes a line left open on each stream', () => {
    const { got, io } = sinks()
    const w = chunkWriter(io, null)
    w.write(chunk('half '))
    expect(got.stdout).toBe('half ')
    w.write(chunk('line\nopen'))
    w.write(chunk('err', 'stderr'))
    w.end()
    expect(got).toEqual({ stdout: 'half line\nopen\n', stderr: 'err\n' })
  })

  it('without a prefix, output that ended its line gets nothing more', () => {
    const { got, io } = sinks()
    const w = chunkWriter(io, null)
    w.write(chunk('done\n'))
    w.end()
    expect(got.stdout).toBe('done\n')
  })

  it('with a prefix writes whole lines only, each prefixed, so two tasks never mix within a line', () => {
    const { got, io } = sinks()
    const a = chunkWriter(io, 'aaaa')
    const b = chunkWriter(io, 'bbbb')
    a.write(chunk('half '))
    b.write(chunk('other '))
    expect(got.stdout).toBe('')
    a.write(chunk('line\n\nnext'))
    b.write(chunk('one\n'))
    a.end()
    b.end()
    expect(got.stdout).toBe('[aaaa] half line\n[aaaa] \n[bbbb] other one\n[aaaa] next\n')
  })

  it('with a prefix, a line longer than 64 KiB is written without waiting for its end', () => {
    const { got, io } = sinks()
    const w = chunkWriter(io, 'p')
    w.write(chunk('x'.repeat(70 * 1024)))
    expect(got.stdout).toBe(`[p] ${'x'.repeat(70 * 1024)}\n`)
    w.end()
    expect(got.stdout).toBe(`[p] ${'x'.repeat(70 * 1024)}\n`)
  })
})
