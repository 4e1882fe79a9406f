/**
 * Deno's file access for the hub's portable core: the shared secret file (SecretFiles) and
 * the task table (StateFiles), with the same durability as hub/node/platform.ts.
 */
import { createHmac, createSecretKey } from 'node:crypto'
import type { Context } from 'hono'
import type { WSContext } from 'hono/ws'
import type { TokenMac } from '../auth/auth.ts'
import type { SecretFiles } from '../auth/secret.ts'
import type { TaskFiles } from '../tasks/task-store.ts'
import { appendSynced } from './append-file-calls.ts'

async function readTextOrNull(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path)
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return null
    throw err
  }
}

export const denoSecretFiles: SecretFiles = {
  read: readTextOrNull,
  async createExclusive(path, text) {
    try {
      await Deno.writeTextFile(path, text, { createNew: true, mode: 0o600 })
      return true
    } catch (err) {
      if (err instanceof Deno.errors.AlreadyExists) return false
      throw err
    }
  },
  async mkdirp(path) {
    await Deno.mkdir(path, { recursive: true, mode: 0o700 })
  },
  async mode(path) {
    const mode = (await Deno.stat(path)).mode
    return mode === null ? null : mode & 0o7777
  },
}

/** Temporary file, fsync, rename, fsync of the directory: a reader sees the old file or the new. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.tmp`
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 })
  try {
    const bytes = new TextEncoder().encode(text)
    for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at))
    await file.sync()
  } finally {
    file.close()
  }
  await Deno.rename(tmp, path)
  // The rename itself is durable only once the directory is.
  const dir = await Deno.open(dirOf(path), { read: true })
  try {
    await dir.sync()
  } finally {
    dir.close()
  }
}

function dirOf(path: string): string {
  const slash = path.lastIndexOf('/')
  return slash > 0 ? path.slice(0, slash) : slash === 0 ? '/' : '.'
}

/**
 * HMAC-SHA256 under the secret, synchronous, through Deno's node:crypto: 5 to 7 µs per token in a
 * loop against WebCrypto's 36 to 44 (its sign is an async op), and an identify goes on in its
 * frame's turn as on Node (auth.ts, `now`).
 */
export function denoTokenMac(secret: string): TokenMac {
  const key = createSecretKey(new TextEncoder().encode(secret))
  return (signingInput) => createHmac('sha256', key).update(signingInput).digest()
}

export const denoStateFiles: TaskFiles = {
  read: readTextOrNull, writeAtomic: writeFileAtomic, rename: (from, to) => Deno.rename(from, to), append: appendSynced,
}

/** `hostname:port` of the peer: Deno.serve hands the handler its `info` as the env. */
export function denoRemoteAddress(c: Context): string | null {
  const addr = (c.env as { remoteAddr?: { hostname?: string; port?: number } } | undefined)?.remoteAddr
  return addr?.hostname ? `${addr.hostname}:${addr.port}` : null
}

/**
 * Destroys a WebSocket's connection at once, as `ws`'s terminate() does on Node. Deno's
 * WebSocket has no such method, and a close whose peer never answers keeps the connection open
 * for good (measured on Deno 2.9.6: still open after 200 s). Closing the socket's resource
 * drops the TCP connection at once (and fires `close`, code 1005). That resource id and
 * `core.close` are Deno internals, not public API: looked up defensively, and where a Deno
 * lacks them this does nothing (docs/reliability.md says what bounds such a socket then).
 */
export function denoTerminate(ws: WSContext): void {
  const socket = ws.raw as object | undefined
  if (!socket) return
  const ridKey = Object.getOwnPropertySymbols(socket).find((s) => s.description === '[[rid]]')
  const rid = ridKey && (socket as Record<symbol, unknown>)[ridKey]
  const internal = (Deno as unknown as Record<symbol, { core?: { close?: (rid: number) => void } } | undefined>)[
    (Deno as unknown as { internal: symbol }).internal
  ]
  if (typeof rid !== 'number' || typeof internal?.core?.close !== 'function') return
  internal.core.close(rid)
}

/** Whether denoTerminate can destroy connections on this Deno. */
export const canTerminate = typeof (Deno as unknown as Record<symbol, { core?: { close?: unknown } } | undefined>)[
  (Deno as unknown as { internal: symbol }).internal
]?.core?.close === 'function'
