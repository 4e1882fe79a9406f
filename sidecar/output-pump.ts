/**
 * A running task's output on its way to the hub as `task_output` frames: at most
 * MAX_OUTPUT_FRAME_BYTES of UTF-8 each, sent every FLUSH_MS while the task writes, and at most
 * BYTES_PER_FLUSH per flush (so a task printing without end costs the hub a few frames a second,
 * well inside its per-socket frame budget). What waits is bounded by MAX_PENDING_BYTES: past it
 * the oldest goes, and the next frame says how much (`dropped`). finish() sends what is left,
 * before the task's outcome, so the hub has all of it when the task ends.
 */
import { MAX_OUTPUT_FRAME_BYTES, type SidecarMessage } from '../shared/protocol.ts'

export const FLUSH_MS = 250
export const BYTES_PER_FLUSH = 64 * 1024
export const MAX_PENDING_BYTES = 256 * 1024

type StreamName = 'stdout' | 'stderr'

export interface OutputPump {
  write(stream: StreamName, chunk: Uint8Array): void
  /** Sends everything still waiting, then stops. */
  finish(): Promise<void>
}

export function createOutputPump(taskId: string, send: (message: SidecarMessage) => Promise<unknown>, flushMs = FLUSH_MS): OutputPump {
  const pending: { stream: StreamName; bytes: Buffer }[] = []
  let pendingBytes = 0
  let dropped = 0
  let timer: ReturnType<typeof setInterval> | null = null
  let sending: Promise<unknown> = Promise.resolve()

  /** Takes up to `max` bytes of one stream from the front, cut where a UTF-8 character starts. */
  function take(max: number): { stream: StreamName; data: string } | null {
    const first = pending[0]
    if (!first) return null
    const parts: Buffer[] = []
    let size = 0
    while (pending.length > 0 && pending[0].stream === first.stream && size < max) {
      const head = pending[0]
      const room = max - size
      if (head.bytes.length <= room) {
        parts.push(head.bytes)
        size += head.bytes.length
        pending.shift()
      } else {
        let cut = room
        // Never split a character: back off over continuation bytes (10xxxxxx).
        while (cut > 0 && (head.bytes[cut] & 0xc0) === 0x80) cut--
        // Not even one character fits what is left of this flush's budget: the next flush sends it.
        if (cut === 0) break
        parts.push(head.bytes.subarray(0, cut))
        head.bytes = head.bytes.subarray(cut)
        size += cut
        break
      }
    }
    if (size === 0) return null
    pendingBytes -= size
    return { stream: first.stream, data: Buffer.concat(parts).toString('utf8') }
  }

  function flush(budget: number): void {
    let left = budget
    while (left > 0 && pending.length > 0) {
      const frame = take(Math.min(MAX_OUTPUT_FRAME_BYTES, left))
      if (!frame) break
      left -= Buffer.byteLength(frame.data)
      const message: SidecarMessage = { type: 'task_output', task_id: taskId, stream: frame.stream, data: frame.data }
      if (dropped > 0) message.dropped = dropped
      dropped = 0
      sending = sending.then(() => send(message)).catch(() => {})
    }
    if (pending.length === 0 && timer) {
      clearInterval(timer)
      timer = null
    }
  }

  return {
    write(stream, chunk) {
      if (chunk.length === 0) return
      pending.push({ stream, bytes: Buffer.from(chunk) })
      pendingBytes += chunk.length
      while (pendingBytes > MAX_PENDING_BYTES) {
        const over = pendingBytes - MAX_PENDING_BYTES
        const head = pending[0]
        let cut = Math.min(over, head.bytes.length)
        // Whole characters only: what is left starts where a character does.
        while (cut < head.bytes.length && (head.bytes[cut] & 0xc0) === 0x80) cut++
        head.bytes = head.bytes.subarray(cut)
        if (head.bytes.length === 0) pending.shift()
        pendingBytes -= cut
        dropped += cut
      }
      timer ??= setInterval(() => flush(BYTES_PER_FLUSH), flushMs)
    },
    async finish() {
      if (timer) clearInterval(timer)
      timer = null
      flush(Infinity)
      await sending
    },
  }
}
