/**
 * A minimal HTTP/1.1 client that POSTs over kept-alive TCP connections, for load generation
 * only (as raw-ws.ts is for WebSockets). node:http's client (its agent, request and response
 * objects and their streams) was about half of the task load generator's CPU (0.13 to 0.15 ms
 * per task with it, 0.07 to 0.09 without; docs/benchmarks.md, round 14), and on 2 cores that
 * CPU is taken from the server under test. The request is byte for byte what
 * node:http sent (and what fetch sends: the same headers in the same order), one write per
 * request, so the server's work is unchanged. One request at a time per connection, no
 * pipelining; the response needs a content-length or chunked body.
 */
import { connect, type Socket } from 'node:net'

export interface PostAnswer {
  status: number
  text: string
}

interface Pending {
  resolve(answer: PostAnswer): void
  reject(err: Error): void
}

/** One connection: its pending request and the bytes of its answer so far. */
interface Connection {
  socket: Socket
  pending: Pending | null
  buffered: Buffer
}

const HEAD_END = Buffer.from('\r\n\r\n')

/** POSTs over at most `connections` kept-alive connections per host; more requests wait for one. */
export function rawPoster(connections: number) {
  const idle = new Map<string, Connection[]>()
  const open = new Map<string, number>()
  const waiting = new Map<string, (() => void)[]>()
  const all = new Set<Connection>()
  /** By URL and then by the caller's headers object: where to connect, and the request's head up to its content-length. */
  const targets = new Map<string, { host: string; port: number; heads: WeakMap<Record<string, string>, string> }>()

  const targetOf = (url: string, headers: Record<string, string>) => {
    let target = targets.get(url)
    if (!target) {
      const u = new URL(url)
      target = { host: u.hostname, port: Number(u.port || 80), heads: new WeakMap() }
      targets.set(url, target)
    }
    let head = target.heads.get(headers)
    if (head === undefined) {
      const u = new URL(url)
      const lines = [`POST ${u.pathname}${u.search} HTTP/1.1`, `host: ${u.host}`, 'connection: keep-alive']
      for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`)
      lines.push('content-type: application/json', 'accept: */*', 'accept-language: *', 'sec-fetch-mode: cors', 'user-agent: node', 'accept-encoding: gzip, deflate')
      head = `${lines.join('\r\n')}\r\ncontent-length: `
      target.heads.set(headers, head)
    }
    return { host: target.host, port: target.port, head }
  }

  async function connection(key: string, host: string, port: number): Promise<Connection> {
    for (;;) {
      const free = idle.get(key)?.pop()
      if (free) return free
      if ((open.get(key) ?? 0) < connections) return openConnection(key, host, port)
      await new Promise<void>((wake) => waiting.set(key, [...(waiting.get(key) ?? []), wake]))
    }
  }

  function openConnection(key: string, host: string, port: number): Connection {
    const socket = connect({ host, port, noDelay: true })
    const conn: Connection = { socket, pending: null, buffered: Buffer.alloc(0) }
    open.set(key, (open.get(key) ?? 0) + 1)
    all.add(conn)
    socket.on('data', (chunk: Buffer) => {
      conn.buffered = conn.buffered.length === 0 ? chunk : Buffer.concat([conn.buffered, chunk])
      let answer: PostAnswer | null
      try {
        answer = readAnswer(conn.buffered)
      } catch (err) {
        conn.pending?.reject(err as Error)
        conn.pending = null
        socket.destroy()
        return
      }
      if (!answer || !conn.pending) return
      const pending = conn.pending
      conn.pending = null
      conn.buffered = Buffer.alloc(0)
      release(key, conn)
      pending.resolve(answer)
    })
    socket.on('error', () => {
      // The close handler fails the pending request.
    })
    socket.on('close', () => {
      all.delete(conn)
      open.set(key, (open.get(key) ?? 1) - 1)
      const list = idle.get(key)
      if (list?.includes(conn)) list.splice(list.indexOf(conn), 1)
      conn.pending?.reject(new Error(`connection to ${key} closed before its answer`))
      conn.pending = null
      waiting.get(key)?.shift()?.()
    })
    return conn
  }

  function release(key: string, conn: Connection): void {
    if (conn.socket.destroyed) return
    const list = idle.get(key) ?? []
    list.push(conn)
    idle.set(key, list)
    waiting.get(key)?.shift()?.()
  }

  return {
    async post(url: string, headers: Record<string, string>, body: string): Promise<PostAnswer> {
      const target = targetOf(url, headers)
      const key = `${target.host}:${target.port}`
      const conn = await connection(key, target.host, target.port)
      return new Promise<PostAnswer>((resolve, reject) => {
        conn.pending = { resolve, reject }
        conn.socket.write(`${target.head}${Buffer.byteLength(body)}\r\n\r\n${body}`)
      })
    },
    close(): void {
      for (const conn of all) conn.socket.destroy()
    },
  }
}

/** The whole answer at the start of `buf`, or null while more bytes are to come. */
export function readAnswer(buf: Buffer): PostAnswer | null {
  const headEnd = buf.indexOf(HEAD_END)
  if (headEnd === -1) return null
  const head = buf.subarray(0, headEnd).toString('latin1')
  const status = Number(head.slice(9, 12))
  const bodyStart = headEnd + 4
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)
  if (length) {
    const end = bodyStart + Number(length[1])
    return buf.length < end ? null : { status, text: buf.subarray(bodyStart, end).toString() }
  }
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) return readChunked(buf, bodyStart, status)
  throw new Error(`an answer with neither content-length nor chunked body: ${head.split('\r\n')[0]}`)
}

function readChunked(buf: Buffer, from: number, status: number): PostAnswer | null {
  const parts: Buffer[] = []
  let at = from
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', at)
    if (lineEnd === -1) return null
    const size = parseInt(buf.subarray(at, lineEnd).toString('latin1'), 16)
    if (buf.length < lineEnd + 2 + size + 2) return null
    if (size === 0) return { status, text: Buffer.concat(parts).toString() }
    parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size))
    at = lineEnd + 2 + size + 2
  }
}
