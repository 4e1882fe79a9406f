/**
 * One sidecar connection, from upgrade to close: before `identified` one frame may come, the
 * identify (at most 16 KiB: larger closes 1009, anything else 4008); after it, each frame is
 * checked against the limits (size, frame budget), decoded, and dispatched to the fleet and
 * the task board. The registry of open sockets is connections.ts.
 * Runtime-neutral: it sees only Hono's WSContext and Web API events.
 */
import type { WSEvents } from 'hono/ws'
import { mayHoldUnstorable, storableFrame, storableText } from '../tasks/outcome-text.ts'
import { CLOSE, ERROR, MAX_FRAME_BYTES, MAX_IDENTIFY_BYTES, decodeSidecarMessage, samePm2Info, utf8Length, type SidecarMessage } from '../../shared/protocol.ts'
import type { Fleet } from '../agents/fleet.ts'
import type { TaskOwner } from '../cluster-seam.ts'
import type { Peer } from '../agents/fleet.ts'
import type { TokenVerifier } from '../auth/auth.ts'
import { createConnections, type Connection, type ConnectionOptions } from './connections.ts'
import { createIdentify, type IdentifyDeps } from '../agents/identify.ts'
import type { TaskOutputStore } from '../tasks/output.ts'
import type { RefusalLog } from '../security/refusal-log.ts'

/** The longest `detail` sent back: a bad field is described, never echoed whole. */
const MAX_DETAIL_CHARS = 200

export interface SocketOptions extends Omit<ConnectionOptions, 'onGone' | 'onFrame'> {
  fleet: Fleet
  tasks: TaskOwner
  /** Cluster mode: may this hub take the agent now? (ClusterSeam.admit) */
  joinCluster?: IdentifyDeps['joinCluster']
  leaveCluster?: (agentId: string, peer: Peer) => void
  verifyToken: TokenVerifier
  /** Where `task_output` frames go (task-control/output.ts); without it they are dropped. */
  outputs?: Pick<TaskOutputStore, 'append'>
  /** Refused identifies are logged through this (one line per peer per interval). */
  refusals: RefusalLog
}

export function createSocketHub(opts: SocketOptions) {
  const { fleet, tasks, log, clock } = opts
  const connections = createConnections({
    ...opts,
    onGone(conn) {
      const rec = conn.agent
      if (rec && rec.peer === conn) {
        fleet.disconnect(rec, conn)
        tasks.disconnected(rec)
        log.info('agent disconnected', { agent_id: rec.agent_id })
      }
    },
    onFrame: (conn, data) => onFrame(conn, data),
  })
  const { drop } = connections
  const identify = createIdentify({
    fleet, tasks, joinCluster: opts.joinCluster, leaveCluster: opts.leaveCluster, verifyToken: opts.verifyToken, log, refusals: opts.refusals,
    drop, fail, admit: connections.admit,
  })

  function fail(conn: Connection, error: string, detail?: string): void {
    if (detail === undefined) return conn.send({ type: 'error', error })
    const short = detail.length > MAX_DETAIL_CHARS ? `${detail.slice(0, MAX_DETAIL_CHARS)}...` : detail
    conn.send({ type: 'error', error, detail: short })
  }

  /** The one frame an unidentified socket may send: a small identify, else it is closed. */
  function onFirstFrame(conn: Connection, data: unknown): void {
    if (conn.identifying) return drop(conn, CLOSE.IDENTIFY_TIMEOUT, 'one frame before identified')
    if (frameBytes(data, MAX_IDENTIFY_BYTES) > MAX_IDENTIFY_BYTES) return drop(conn, CLOSE.TOO_BIG, 'identify frame too large')
    const decoded = typeof data === 'string' ? decodeSidecarMessage(data) : null
    if (decoded?.ok && decoded.value.type === 'identify') {
      void identify(conn, typeof data === 'string' && mayHoldUnstorable(data) ? storableText(decoded.value) : decoded.value).catch((err) => log.error('identify failed', { error: String(err) }))
      return
    }
    // Said why, then closed: the socket had its one frame.
    if (decoded === null) fail(conn, ERROR.INVALID_MESSAGE, 'frames must be JSON text')
    else if (!decoded.ok) fail(conn, decoded.error, decoded.detail)
    else fail(conn, ERROR.NOT_IDENTIFIED, 'the first frame must be identify')
    drop(conn, CLOSE.IDENTIFY_TIMEOUT, 'the first frame must be identify')
  }

  function dispatch(conn: Connection, msg: SidecarMessage): void {
    const rec = conn.agent
    if (msg.type === 'identify' || !rec) return fail(conn, ERROR.ALREADY_IDENTIFIED)
    switch (msg.type) {
      case 'ping':
        return conn.send({ type: 'pong' })
      case 'pm2_info':
        // The same report again changes nothing, and so announces nothing (no `agent` event).
        if (samePm2Info(rec.pm2_info, msg.pm2_info)) return
        return fleet.reportPm2Info(rec, msg.pm2_info)
      case 'stats': {
        const { type: _type, ...stats } = msg
        return fleet.recordStats(rec, stats)
      }
      case 'agent_restarting':
        log.info('agent restarting', { agent_id: rec.agent_id, restart_id: msg.restart_id ?? null })
        return fleet.agentRestarting(rec, msg.restart_id)
      case 'task_accepted':
        return tasks.accepted(rec, msg.task_id)
      case 'task_output':
        // Only from the agent that holds the task: no one may write into another's output.
        if (rec.task_id === msg.task_id) opts.outputs?.append(msg.task_id, msg.stream, msg.data, msg.dropped ?? 0)
        return
      case 'task_complete':
        return tasks.finished(rec, msg.task_id, { kind: 'complete', result: msg.result })
      case 'task_failed':
        return tasks.finished(rec, msg.task_id, { kind: 'failed', error: msg.error })
      case 'task_interrupted':
        return tasks.interrupted(rec, msg.task_id, msg.reason, msg.started ?? true)
      case 'error':
        return log.warn('agent refused a command', { agent_id: rec.agent_id, error: msg.error, detail: msg.detail ?? null })
    }
  }

  function onFrame(conn: Connection, data: unknown): void {
    const now = clock.now()
    conn.lastFrameAt = now
    // Any frame shows the agent alive, even one refused below: last_seen moves with each.
    if (conn.agent?.peer === conn) fleet.seen(conn.agent)
    if (!conn.agent) {
      try {
        return onFirstFrame(conn, data)
      } catch (err) {
        // decode() describes a bad field with JSON.stringify, which throws on very deep nesting.
        log.warn('first frame could not be handled', { error: String(err) })
        fail(conn, ERROR.INVALID_MESSAGE, 'frame could not be decoded')
        return drop(conn, CLOSE.IDENTIFY_TIMEOUT, 'the first frame must be identify')
      }
    }
    // Node's ws enforces this before we see the frame; Deno has no such option.
    if (frameBytes(data, MAX_FRAME_BYTES) > MAX_FRAME_BYTES) return drop(conn, CLOSE.TOO_BIG, 'frame too large')
    const verdict = conn.budget!.take(now)
    if (verdict === 'abusive') {
      log.warn('closing a socket over its frame budget', { agent_id: conn.agent?.agent_id ?? null, max_frames_per_s: opts.maxFramesPerS })
      return drop(conn, CLOSE.RATE_LIMITED, 'rate limited')
    }
    if (verdict === 'limited') return fail(conn, ERROR.RATE_LIMITED)
    if (typeof data !== 'string') return fail(conn, ERROR.INVALID_MESSAGE, 'frames must be JSON text')
    let decoded: ReturnType<typeof decodeSidecarMessage>
    try {
      decoded = decodeSidecarMessage(data)
    } catch {
      // decode() describes a bad field with JSON.stringify, which throws on very deep nesting.
      return fail(conn, ERROR.INVALID_MESSAGE, 'frame could not be decoded')
    }
    if (!decoded.ok) return fail(conn, decoded.error, decoded.detail)
    try {
      // What a sidecar reports is stored with U+FFFD for U+0000 and lone surrogates, on both
      // stores alike (outcome-text.ts): PostgreSQL's text refuses them, and a report cannot be
      // asked again. A task's result is any JSON, kept exactly.
      dispatch(conn, mayHoldUnstorable(data) ? storableFrame(decoded.value) : decoded.value)
    } catch (err) {
      // A bug must cost this frame, not the connection (on Deno, not the process).
      log.error('frame handling failed', { agent_id: conn.agent?.agent_id ?? null, type: decoded.value.type, error: String(err) })
      fail(conn, ERROR.INTERNAL_ERROR)
    }
  }

  /** The `upgradeWebSocket` events for one new connection: the Connection itself. */
  function events(peerAddress: string | null = null): WSEvents {
    return connections.connection(peerAddress)
  }

  return {
    events,
    get size() {
      return connections.size
    },
    /** Why a new socket would be refused now (an error code), or null. */
    refusal: connections.refusal,
    closeToken: connections.closeToken,
    closeRevoked: connections.closeRevoked,
    close: connections.close,
  }
}

/** A frame's size in bytes, whatever the runtime hands over (text, ArrayBuffer, view or Blob). */
function frameBytes(data: unknown, limit: number): number {
  // Few enough UTF-16 units that even at 4 bytes each it is within the limit: no need to count.
  if (typeof data === 'string') return data.length > limit / 4 ? utf8Length(data) : data.length
  if (data instanceof ArrayBuffer) return data.byteLength
  if (ArrayBuffer.isView(data)) return data.byteLength
  if (typeof Blob !== 'undefined' && data instanceof Blob) return data.size
  return 0
}
