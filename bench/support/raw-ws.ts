/**
 * A minimal WebSocket client on a bare TCP socket, for load generation only. A `ws` client
 * spends more CPU per connection than the servers under test, and on 2 cores the client's
 * cost would flatten every ratio towards 1. This one sends one fixed handshake, frames text
 * with a zero mask (servers do not check the key), and parses only unfragmented frames.
 */
import { connect, type Socket } from 'node:net'

export interface RawSocket {
  readonly socket: Socket
  /** True after the 101 response; frames sent earlier are an error. */
  readonly open: boolean
  sendText(text: string): void
  destroy(): void
}

export interface RawSocketHandlers {
  onOpen(ws: RawSocket): void
  onText(text: string, ws: RawSocket): void
  onClose(code: number | null, ws: RawSocket): void
}

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==' // RFC 6455's sample: 16 bytes in base64; the accept value is not checked

/** Connects to `url` (ws://host:port/path); the handlers hear the open, each text frame and the close. */
export function openRawSocket(url: string, handlers: RawSocketHandlers): RawSocket {
  const u = new URL(url)
  const request = Buffer.from(
    `GET ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  )
  const socket = connect({ host: u.hostname, port: Number(u.port), noDelay: true })
  let open = false
  let buffered: Buffer = Buffer.alloc(0)
  let closeCode: number | null = null
  let ended = false

  const ws: RawSocket = {
    socket,
    get open() {
      return open
    },
    sendText(text) {
      socket.write(encodeFrame(0x1, Buffer.from(text)))
    },
    destroy() {
      socket.destroy()
    },
  }

  socket.once('connect', () => socket.write(request))
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk])
    if (!open) {
      const end = buffered.indexOf('\r\n\r\n')
      if (end === -1) return
      const status = buffered.subarray(0, buffered.indexOf('\r\n')).toString()
      if (!/^HTTP\/1\.1 101/.test(status)) {
        socket.destroy()
        return
      }
      open = true
      buffered = buffered.subarray(end + 4)
      handlers.onOpen(ws)
    }
    buffered = readFrames(buffered, (opcode, payload) => {
      if (opcode === 0x1) handlers.onText(payload.toString(), ws)
      else if (opcode === 0x8) {
        closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005
        socket.end()
      } else if (opcode === 0x9) socket.write(encodeFrame(0xa, payload))
    })
  })
  socket.on('error', () => {
    // The close handler reports the end; the code stays null for a transport error.
  })
  socket.on('close', () => {
    if (ended) return
    ended = true
    handlers.onClose(closeCode, ws)
  })
  return ws
}

/** A masked client frame with a zero key, so the payload goes out as is. */
function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10
  const frame = Buffer.allocUnsafe(head + 4 + len)
  frame[0] = 0x80 | opcode
  if (len < 126) frame[1] = 0x80 | len
  else if (len < 65536) {
    frame[1] = 0x80 | 126
    frame.writeUInt16BE(len, 2)
  } else {
    frame[1] = 0x80 | 127
    frame.writeBigUInt64BE(BigInt(len), 2)
  }
  frame.writeUInt32BE(0, head)
  payload.copy(frame, head + 4)
  return frame
}

/** Calls `onFrame` for each whole server frame in `buf`; returns the unread rest. */
function readFrames(buf: Buffer, onFrame: (opcode: number, payload: Buffer) => void): Buffer {
  let at = 0
  for (;;) {
    if (buf.length - at < 2) break
    const opcode = buf[at] & 0x0f
    let len = buf[at + 1] & 0x7f
    let head = 2
    if (len === 126) {
      if (buf.length - at < 4) break
      len = buf.readUInt16BE(at + 2)
      head = 4
    } else if (len === 127) {
      if (buf.length - at < 10) break
      len = Number(buf.readBigUInt64BE(at + 2))
      head = 10
    }
    if (buf.length - at < head + len) break
    onFrame(opcode, buf.subarray(at + head, at + head + len))
    at += head + len
  }
  return at === 0 ? buf : buf.subarray(at)
}
