/**
 * Which hub holds which agent's socket, on leases kept on the database's clock. A hub renews
 * its lease every AGENTCOM_HUB_LEASE_S / 3; one that stops renewing (dead, or cut off from the
 * database) loses its agents: they read as disconnected once its lease is past, whatever their
 * rows say, until they identify on a hub that holds a lease.
 */
import { inTransaction, type Queryable, type Sql } from './connect.ts'

export interface LeaseRenewal {
  /** Epoch ms, database time. */
  lease_until: number
  /**
   * This hub held no current lease before this call (always so on its first call). After the
   * first, other hubs may have counted this hub's agents offline: see `others_may_have_acted`.
   */
  lapsed: boolean
  /**
   * After this hub's lease ran out, another hub renewed its own, having held it by then for at
   * least `seniorMs` (the time a hub waits after taking a lease before it acts on other hubs'
   * lapses): it may have queued this hub's agents' tasks again or failed their restarts. False
   * when every hub lapsed together (the database was gone for all): nobody acted, and the hub
   * may keep its agents.
   */
  others_may_have_acted: boolean
}

export interface AgentHello {
  pm2_info: unknown
  supervised: boolean
  instance_id: string | null
  version?: string | null
  host?: unknown
  labels?: readonly string[]
}

export type AgentClaim =
  /**
   * `previous_*`: who held the agent's socket until now (null if nobody): close that one.
   * `previous_pm2_info`: the process the cluster last saw of the agent, on any hub (healing
   * compares it with the one identifying).
   */
  | { ok: true; previous_hub_id: string | null; previous_connection_id: string | null; previous_pm2_info: unknown }
  /** This hub's lease is not current: it must not take agents until it renews. */
  | { ok: false; error: 'lease_expired' }

export interface AgentRow {
  agent_id: string
  hub_id: string | null
  /** True only while the row says so and its hub's lease holds. */
  connected: boolean
  connection_id: string | null
  connected_at: number | null
  last_seen: number | null
  pm2_info: unknown
  supervised: boolean
  instance_id: string | null
  drained: boolean
  quarantined: boolean
  stats: unknown
  updated_at: number
}

const AGENT_COLUMNS = `a.agent_id, a.hub_id, (a.connected AND coalesce(h.lease_until > now(), false)) AS connected,
  a.connection_id, epoch_ms(a.connected_at) AS connected_at, epoch_ms(a.last_seen) AS last_seen, a.pm2_info,
  a.supervised, a.instance_id, a.drained, a.quarantined, a.stats, epoch_ms(a.updated_at) AS updated_at`

/**
 * Takes or extends this hub's lease to `leaseMs` from the database's now. `live_since` starts
 * again when the lease had lapsed. `seniorMs`: see LeaseRenewal.others_may_have_acted.
 */
export async function renewLease(
  sql: Queryable, hubId: string, leaseMs: number, runtime: string | null = null, seniorMs = leaseMs,
): Promise<LeaseRenewal> {
  const [row] = await sql<{ lease_until: number; lapsed: boolean | null; others_may_have_acted: boolean }[]>`
    WITH prev AS (SELECT lease_until FROM hubs WHERE hub_id = ${hubId}),
    -- Another hub renewed after this one's lease ran out, holding its own long enough by then.
    acted AS (SELECT EXISTS (SELECT 1 FROM hubs o, prev WHERE o.hub_id <> ${hubId}
      AND o.lease_until - ${leaseMs}::float8 * interval '1 millisecond' > prev.lease_until
      AND o.live_since + ${seniorMs}::float8 * interval '1 millisecond' <= o.lease_until - ${leaseMs}::float8 * interval '1 millisecond') AS hit)
    INSERT INTO hubs (hub_id, runtime, lease_until, live_since)
    VALUES (${hubId}, ${runtime}, now() + ${leaseMs}::float8 * interval '1 millisecond', now())
    ON CONFLICT (hub_id) DO UPDATE SET lease_until = EXCLUDED.lease_until,
      live_since = CASE WHEN hubs.lease_until <= now() THEN now() ELSE hubs.live_since END
    RETURNING epoch_ms(lease_until) AS lease_until, (SELECT lease_until <= now() FROM prev) AS lapsed,
      (SELECT hit FROM acted) AS others_may_have_acted`
  return { lease_until: row.lease_until, lapsed: row.lapsed ?? true, others_may_have_acted: row.others_may_have_acted }
}

/**
 * Whether another live process runs as hub `hubId`: its lease holds and it has connections open
 * under the same application name. The connections tell a live hub from one that crashed a
 * moment ago (its lease still holds, but the server dropped its connections with the process).
 * Must be the first query on a pool of `applicationName`, so its one connection is this one.
 */
export async function hubIdHeldElsewhere(sql: Queryable, hubId: string, applicationName: string): Promise<boolean> {
  const [row] = await sql<{ held: boolean }[]>`
    SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = ${applicationName} AND pid <> pg_backend_pid())
      AND to_regclass('hubs') IS NOT NULL AS held`
  if (!row.held) return false
  const [lease] = await sql<{ live: boolean }[]>`SELECT lease_until > now() AS live FROM hubs WHERE hub_id = ${hubId}`
  return lease?.live ?? false
}

/** A clean stop: the hub's lease ends now and its agents read as disconnected at once. */
export async function releaseLease(sql: Sql, hubId: string): Promise<void> {
  await inTransaction(sql, async (tx) => {
    await tx`UPDATE agents SET connected = false, updated_at = now() WHERE hub_id = ${hubId} AND connected`
    await tx`DELETE FROM hubs WHERE hub_id = ${hubId}`
  })
}

/** Hub ids whose lease has run out, oldest first: their running rollouts and tasks need a new owner. */
export async function expiredHubs(sql: Queryable): Promise<string[]> {
  const rows = await sql<{ hub_id: string }[]>`SELECT hub_id FROM hubs WHERE lease_until <= now() ORDER BY lease_until`
  return rows.map((r) => r.hub_id)
}

/** Forgets hubs whose lease ran out more than `afterMs` ago (hub ids are per process). */
export async function pruneHubs(sql: Sql, afterMs: number): Promise<number> {
  return inTransaction(sql, async (tx) => {
    const rows = await tx<{ hub_id: string }[]>`DELETE FROM hubs
      WHERE lease_until < now() - ${afterMs}::float8 * interval '1 millisecond' RETURNING hub_id`
    const gone = rows.map((r) => r.hub_id)
    // Written down too, so the rows stay disconnected even if a hub of that id comes back.
    if (gone.length > 0) await tx`UPDATE agents SET connected = false, updated_at = now() WHERE hub_id IN ${tx(gone)} AND connected`
    return gone.length
  })
}

/**
 * Records that `agentId` identified on this hub through connection `connectionId`. Refused
 * while this hub's lease is not current. Concurrent claims of one agent queue on its row, so
 * each learns the connection it replaced.
 */
export async function claimAgent(
  sql: Sql,
  claim: { hubId: string; agentId: string; connectionId: string; hello: AgentHello },
): Promise<AgentClaim> {
  const { hubId, agentId, connectionId, hello } = claim
  return inTransaction(sql, async (tx): Promise<AgentClaim> => {
    const [lease] = await tx<{ live: boolean }[]>`SELECT lease_until > now() AS live FROM hubs WHERE hub_id = ${hubId}`
    if (!lease?.live) return { ok: false, error: 'lease_expired' }
    await tx`INSERT INTO agents (agent_id) VALUES (${agentId}) ON CONFLICT DO NOTHING`
    const [prev] = await tx<{ hub_id: string | null; connection_id: string | null; connected: boolean; pm2_info: unknown }[]>`
      SELECT hub_id, connection_id, connected, pm2_info FROM agents WHERE agent_id = ${agentId} FOR UPDATE`
    await tx`UPDATE agents SET hub_id = ${hubId}, connection_id = ${connectionId}, connected = true,
      connected_at = now(), last_seen = now(), pm2_info = ${hello.pm2_info === null ? null : tx.json(hello.pm2_info as never)},
      supervised = ${hello.supervised}, instance_id = ${hello.instance_id}, labels = ${[...hello.labels ?? []]}::text[],
      updated_at = now(), version = ${hello.version ?? null}, host = ${hello.host ? tx.json(hello.host as never) : null}
      WHERE agent_id = ${agentId}`
    const previous_pm2_info = prev.pm2_info ?? null
    return prev.connected
      ? { ok: true, previous_hub_id: prev.hub_id, previous_connection_id: prev.connection_id, previous_pm2_info }
      : { ok: true, previous_hub_id: null, previous_connection_id: null, previous_pm2_info }
  })
}

/**
 * The socket `connectionId` closed. Applies only if that connection still holds the agent: a
 * late close of a replaced socket (here or on another hub) changes nothing. Returns whether it applied.
 */
export async function releaseAgent(sql: Queryable, hubId: string, agentId: string, connectionId: string): Promise<boolean> {
  const rows = await sql`UPDATE agents SET connected = false, last_seen = now(), updated_at = now()
    WHERE agent_id = ${agentId} AND hub_id = ${hubId} AND connection_id = ${connectionId} AND connected
    RETURNING agent_id`
  return rows.length === 1
}

/**
 * What the holding hub reports of an agent on `connectionId`: pm2's view of it (reported after
 * its identify) and its last stats. Applies only while that connection holds it. (A quarantine
 * is written by healing itself, pg/healing-rows.ts, and lifted by a resume.)
 */
export async function saveAgentState(
  sql: Queryable, hubId: string, agentId: string, connectionId: string,
  state: { pm2_info: unknown; stats: unknown },
): Promise<void> {
  await sql`UPDATE agents SET stats = ${state.stats === null ? null : sql.json(state.stats as never)},
      pm2_info = ${state.pm2_info === null ? null : sql.json(state.pm2_info as never)}, updated_at = now()
    WHERE agent_id = ${agentId} AND hub_id = ${hubId} AND connection_id = ${connectionId} AND connected`
}

/** A frame arrived on `connectionId`: the agent was seen now. Returns whether that connection still holds it. */
export async function touchAgent(sql: Queryable, hubId: string, agentId: string, connectionId: string): Promise<boolean> {
  const rows = await sql`UPDATE agents SET last_seen = now()
    WHERE agent_id = ${agentId} AND hub_id = ${hubId} AND connection_id = ${connectionId} AND connected
    RETURNING agent_id`
  return rows.length === 1
}

export async function getAgent(sql: Queryable, agentId: string): Promise<AgentRow | null> {
  const [row] = await sql<AgentRow[]>`SELECT ${sql.unsafe(AGENT_COLUMNS)}
    FROM agents a LEFT JOIN hubs h ON h.hub_id = a.hub_id WHERE a.agent_id = ${agentId}`
  return row ?? null
}

/** Every agent, by id. */
export async function listAgents(sql: Queryable): Promise<AgentRow[]> {
  return sql<AgentRow[]>`SELECT ${sql.unsafe(AGENT_COLUMNS)}
    FROM agents a LEFT JOIN hubs h ON h.hub_id = a.hub_id ORDER BY a.agent_id`
}

/** Every agent this hub holds was seen now (its sockets are checked by the hub's heartbeat). */
export async function touchHubAgents(sql: Queryable, hubId: string): Promise<void> {
  await sql`UPDATE agents SET last_seen = now() WHERE hub_id = ${hubId} AND connected`
}

/** What the cluster says of the agents this hub holds: their drained flag and pending restart. */
export async function heldAgentState(sql: Queryable, hubId: string): Promise<{ agent_id: string; connection_id: string; drained: boolean; restart_id: string | null }[]> {
  return sql`SELECT a.agent_id, a.connection_id, a.drained, r.restart_id FROM agents a
    LEFT JOIN restarts r ON r.agent_id = a.agent_id AND r.state IN ('commanded', 'deferred', 'restarting')
    WHERE a.hub_id = ${hubId} AND a.connected`
}

/**
 * Marks every agent row of this hub disconnected: before it takes a lease again after losing
 * it (or after a restart under the same AGENTCOM_HUB_ID), its old rows must not read as live.
 */
export async function disconnectHubAgents(sql: Queryable, hubId: string): Promise<void> {
  await sql`UPDATE agents SET connected = false, updated_at = now() WHERE hub_id = ${hubId} AND connected`
}
