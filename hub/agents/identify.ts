/**
 * The identify handshake: the token must be an agent token for the claimed agent id. Then the
 * connection becomes the agent's, and the fleet and the task board reconcile what it holds.
 */
import { CLOSE, ERROR, type SidecarMessage } from '../../shared/protocol.ts'
import type { Logger } from '../../shared/log.ts'
import type { TokenVerifier } from '../auth/auth.ts'
import type { Connection } from '../sockets/connections.ts'
import type { Fleet } from './fleet.ts'
import type { TaskOwner } from '../cluster-seam.ts'
import type { AgentStanding, Hello, Peer } from './fleet.ts'
import { hostFacts } from '../../shared/host-facts.ts'
import type { RefusalLog } from '../security/refusal-log.ts'

export interface IdentifyDeps {
  fleet: Fleet
  tasks: TaskOwner
  /** Cluster mode: may this hub take the agent now, and what does the cluster say of it? (see ClusterSeam.admit) */
  joinCluster?: (agentId: string, peer: Peer, hello: Hello) => Promise<AgentStanding | null>
  /** Cluster mode: a joined connection closed before it became the agent's; undo the join. */
  leaveCluster?: (agentId: string, peer: Peer) => void
  verifyToken: TokenVerifier
  log: Logger
  /** Refused identifies are logged through this: once per peer per interval. */
  refusals: RefusalLog
  drop(conn: Connection, code: number, reason: string): void
  fail(conn: Connection, error: string, detail?: string): void
  /** Whether the connection may become an agent's (the cap on identified sockets). */
  admit(conn: Connection, replacing: boolean): boolean
}

/** The `identified` frame, spelled as JSON.stringify({ type: 'identified', agent_id }) spells it, with no object made per identify. */
export function identifiedFrame(agentId: string): string {
  return `{"type":"identified","agent_id":${JSON.stringify(agentId)}}`
}

export function createIdentify({ fleet, tasks, joinCluster, leaveCluster, verifyToken, log, refusals, drop, fail, admit }: IdentifyDeps) {
  return async function identify(conn: Connection, msg: Extract<SidecarMessage, { type: 'identify' }>): Promise<void> {
    if (conn.agent || conn.identifying) return fail(conn, ERROR.ALREADY_IDENTIFIED)
    conn.identifying = true
    // At once with a synchronous MAC (both entries pass one): the rest runs in its frame's turn.
    const checked = verifyToken.now(msg.token, 'agent')
    const verdict = checked instanceof Promise ? await checked : checked
    conn.identifying = false
    if (conn.closed) return
    const claims = verdict.ok && verdict.claims.role === 'agent' ? verdict.claims : null
    if (!claims || claims.sub !== msg.agent_id) {
      // Why it was refused is logged, never sent: the answer is the same for every bad token.
      const reason = verdict.ok ? 'another_agent' : verdict.reason
      refusals.warn('identify refused', { agent_id: msg.agent_id, peer: conn.peerAddress, reason })
      fail(conn, ERROR.UNAUTHORIZED)
      return drop(conn, CLOSE.UNAUTHORIZED, 'unauthorized')
    }
    if (!admit(conn, fleet.get(msg.agent_id)?.peer != null)) {
      refusals.warn('identify refused: connection limit', { agent_id: msg.agent_id, peer: conn.peerAddress })
      fail(conn, ERROR.TOO_MANY_CONNECTIONS)
      return drop(conn, CLOSE.TRY_AGAIN_LATER, 'too many connections')
    }
    const hello: Hello = {
      pm2_info: msg.pm2_info, supervised: msg.supervised, instance_id: msg.instance_id ?? null, ...hostFacts(msg), labels: msg.labels ?? [],
    }
    // Held from here on: a revocation learned while the cluster join waits closes this socket (4001).
    conn.credential = claims
    let standing: AgentStanding | undefined
    if (joinCluster) {
      conn.identifying = true
      const joined = await joinCluster(msg.agent_id, conn, hello)
      conn.identifying = false
      if (conn.closed) {
        if (joined) leaveCluster?.(msg.agent_id, conn)
        return
      }
      if (!joined) return drop(conn, CLOSE.TRY_AGAIN_LATER, 'this hub cannot take agents now')
      standing = joined
    }
    if (conn.identifyTimer) clearTimeout(conn.identifyTimer)
    conn.identifyTimer = null
    // `identified` first: what the hub owes this agent (a pending restart, tasks) follows it.
    conn.sendText(identifiedFrame(msg.agent_id))
    fleet.identify(msg.agent_id, conn, hello, standing)
    const rec = fleet.get(msg.agent_id)!
    conn.agent = rec
    tasks.identified(rec, msg.active_task_id ?? null)
    log.info('agent identified', {
      agent_id: rec.agent_id, peer: conn.peerAddress, supervised: msg.supervised, pm2_pid: msg.pm2_info?.pid ?? null,
      restart_count: msg.pm2_info?.restart_count ?? null, version: hello.version ?? null,
    })
  }
}
