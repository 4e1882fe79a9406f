/**
 * A minimal HTTP/1.1 client that POSTs over kept-alive TCP connections, for load generation
 * only (as raw-ws.ts is for WebSockets). node:http's client (its agent, request and response
 * objects and their streams) was about half of the task load generator's CPU (0.13 to 0.15 ms
 * per task with it, 0.07 to 0.09 without; docs/benchmarks.md, round 14), and on 2 cores that
 * CPU is taken from the server under test. The request is byte for byte what node:http sent
 * (and what fetch sends: the same headers in the same order), one write per request, so the
 * server's work is unchanged. One request at a time per connection, no pipelining; a new
 * connection opens when none is idle, so the caller's posts in flight bound the connections.
 * An answer must carry a content-length (every hub answer does); any other is an error.
 */
import { connect, type Socket } from 'node:net'

export interface PostAnswer {
  status: number
  text: string
}

/** One connection: its pending request and the bytes of its answer so far. */
interface Connection {
  socket: Socket
  pending: { resolve(answer: PostAnswer): void; reject(err: Error): void } | null
  buffered: Buffer
}

/** A URL's server, its idle connections, and each caller headers object's request head up to the content-length value. */
interface Target {
  host: string
  port: number
  idle: Connection[]
  heads: WeakMap<Record<string, string>, string>
}

const HEAD_END = Buffer.from('\r\n\r\n')
const FIXED_HEADERS = ['content-type: application/json', 'accept: */*', 'accept-language: *', 'sec-fetch-mode: cors', 'user-agent: node', 'accept-encoding: gzip, deflate']

export function rawPoster() {
  const targets = new Map<string, Target>()
  const all = new Set<Connection>()

  function targetOf(url: string): Target {
    let target = targets.get(url)
    if (!target) {
      const u = new URL(url)
      target = { host: u.hostname, port: Number(u.port || 80), idle: [], heads: new WeakMap() }
      targets.set(url, target)
    }
    return target
  }

  function headOf(url: string, target: Target, headers: Record<string, string>): string {
    let head = target.heads.get(headers)
    if (head === undefined) {
      const u = new URL(url)
      const lines = [`POST ${u.pathname}${u.search} HTTP/1.1`, `host: ${u.host}`, 'connection: keep-alive']
      for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`)
      head = `${[...lines, ...FIXED_HEADERS].join('\r\n')}\r\ncontent-length: `
      target.heads.set(headers, head)
    }
    return head
  }

  function openConnection(target: Target): Connection {
    const socket = connect({ host: target.host, port: target.port, noDelay: true })
    const conn: Connection = { socket, pending: null, buffered: Buffer.alloc(0) }
    all.add(conn)
    const fail = (err: Error) => {
      conn.pending?.reject(err)
      conn.pending = null
    }
    socket.on('data', (chunk: Buffer) => {
      conn.buffered = conn.buffered.length === 0 ? chunk : Buffer.concat([conn.buffered, chunk])
      let answer: PostAnswer | null
      try {
        answer = readAnswer(conn.buffered)
      } catch (err) {
        fail(err as Error)
        socket.destroy()
        return
      }
      if (!answer || !conn.pending) return
      const { resolve } = conn.pending
      conn.pending = null
      conn.buffered = Buffer.alloc(0)
      target.idle.push(conn)
      resolve(answer)
    })
    socket.on('error', () => {
      // The close handler fails the pending request.
    })
    socket.on('close', () => {
      all.delete(conn)
      const at = target.idle.indexOf(conn)
      if (at !== -1) target.idle.splice(at, 1)
      fail(new Error(`connection to ${target.host}:${target.port} closed before its answer`))
    })
    return conn
  }

  return {
    post(url: string, headers: Record<string, string>, body: string): Promise<PostAnswer> {
      const target = targetOf(url)
      const conn = target.idle.pop() ?? openConnection(target)
      return new Promise<PostAnswer>((resolve, reject) => {
        conn.pending = { resolve, reject }
        conn.socket.write(`${headOf(url, target, headers)}${Buffer.byteLength(body)}\r\n\r\n${body}`)
      })
    },
    close(): void {
      for (const conn of all) conn.socket.destroy()
    },
  }
}

/** The whole answer at the start of `buf`, or null while more bytes are to come. */
function readAnswer(buf: Buffer): PostAnswer | null {
  const headEnd = buf.indexOf(HEAD_END)
  if (headEnd === -1) return null
  const head = buf.subarray(0, headEnd).toString('latin1')
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)
  if (!length) throw new Error(`an answer without content-length: ${head.split('\r\n')[0]}`)
  const bodyStart = headEnd + 4
  const end = bodyStart + Number(length[1])
  return buf.length < end ? null : { status: Number(head.slice(9, 12)), text: buf.subarray(bodyStart, end).toString() }
}
