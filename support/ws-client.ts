/** A real `ws` client that queues frames, so a test can await the next one. */
import WebSocket from 'ws'

export interface TestSocket {
  ws: WebSocket
  send(frame: unknown): void
  sendRaw(data: string | Buffer, opts?: { binary?: boolean }): void
  /** The next frame (of `type`, skipping others if given); rejects if the socket closes first. */
  next(type?: string, timeoutMs?: number): Promise<any>
  /** Resolves with the close code and reason. */
  closed: Promise<{ code: number; reason: string }>
  close(): void
}

export async function openSocket(url: string): Promise<TestSocket> {
  const ws = new WebSocket(url)
  const frames: any[] = []
  const waiters: Array<() => void> = []
  ws.on('message', (data) => {
    frames.push(JSON.parse(data.toString()))
    waiters.splice(0).forEach((w) => w())
  })
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() })
      waiters.splice(0).forEach((w) => w())
    })
  })
  ws.on('error', () => {}) // the close event carries what the tests check
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve())
    ws.once('error', reject)
  })
  return {
    ws,
    closed,
    send: (frame) => ws.send(JSON.stringify(frame)),
    sendRaw: (data, opts) => ws.send(data, { binary: opts?.binary ?? false }),
    async next(type, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const at = frames.findIndex((f) => type === undefined || f.type === type)
        if (at !== -1) return frames.splice(at, 1)[0]
        if (ws.readyState === WebSocket.CLOSED) throw new Error(`socket closed while waiting for ${type ?? 'a frame'}`)
        const left = deadline - Date.now()
        if (left <= 0) throw new Error(`no ${type ?? 'frame'} within ${timeoutMs} ms; got ${JSON.stringify(frames)}`)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left)
          waiters.push(() => {
            clearTimeout(timer)
            resolve()
          })
        })
      }
    },
    close: () => ws.close(),
  }
}

/** Opens a socket and identifies as `agentId`; resolves after `identified`. */
export async function identifiedSocket(url: string, agentId: string, token: string, extra: Record<string, unknown> = {}) {
  const socket = await openSocket(url)
  socket.send({
    type: 'identify', agent_id: agentId, token, protocol_version: 1,
    pm2_info: null, supervised: true, ...extra,
  })
  const reply = await socket.next()
  if (reply.type !== 'identified') throw new Error(`identify failed: ${JSON.stringify(reply)}`)
  return socket
}
