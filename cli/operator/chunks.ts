/**
 * How `logs` and `run --follow` print a task's output chunks. A chunk is whatever the sidecar
 * sent in one frame (every 250 ms at least), so it may end mid-line. One task's output is written
 * as it comes; when several tasks print together (`run --all --follow`) each line is held until
 * it is whole and then written with its task's prefix, so lines of different tasks never mix.
 */
import type { OutputChunk } from '../../shared/api-schemas.ts'
import type { VerbIo } from './verb.ts'

/** A line held for its end no longer than this: a task that never writes a newline still shows. */
const MAX_HELD = 64 * 1024

export interface ChunkWriter {
  write(chunk: OutputChunk): void
  /** The task's output is over: a line it left open is ended, so what follows starts its own. */
  end(): void
}

/** `prefix`: the task's label before each line (`[1234abcd] `), or null for output as is. */
export function chunkWriter(io: Pick<VerbIo, 'stdout' | 'stderr'>, prefix: string | null): ChunkWriter {
  const sinks = { stdout: io.stdout, stderr: io.stderr }
  const held = { stdout: '', stderr: '' }
  const open = { stdout: false, stderr: false }
  /** Whole lines (`text` ends with a newline), each with the prefix. */
  const labelled = (text: string) => text.split('\n').slice(0, -1).map((line) => `[${prefix}] ${line}\n`).join('')
  return {
    write({ stream, data }) {
      if (data === '') return
      if (prefix === null) {
        sinks[stream].write(data)
        open[stream] = !data.endsWith('\n')
        return
      }
      const text = held[stream] + data
      const whole = text.length > MAX_HELD ? text.length : text.lastIndexOf('\n') + 1
      held[stream] = text.slice(whole)
      if (whole > 0) sinks[stream].write(labelled(text.slice(0, whole).replace(/([^\n])$/, '$1\n')))
    },
    end() {
      for (const stream of ['stdout', 'stderr'] as const) {
        if (held[stream] !== '') sinks[stream].write(labelled(`${held[stream]}\n`))
        else if (open[stream]) sinks[stream].write('\n')
        held[stream] = ''
        open[stream] = false
      }
    },
  }
}
