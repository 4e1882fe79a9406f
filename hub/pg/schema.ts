/**
 * The cluster schema, as versioned migrations: append a new entry for every change, never edit
 * one that has shipped (a hub that already applied it would not see the edit).
 *
 * Times are `timestamptz` set from the database's `now()`, never from a hub's clock, so leases
 * and deadlines mean the same on every hub. The API speaks epoch milliseconds: queries read
 * times through `epoch_ms(t)` (a float8, so postgres.js hands back a number) and write them with
 * `now()` plus an interval.
 */
import { CLAIM_TASKS, EPOCH_MS_INLINED, EVENT_ROWS_OF_VIEWS } from './schema-throughput.ts'

export interface Migration {
  /** Strictly increasing from 1; the migrator refuses gaps and reordering. */
  version: number
  name: string
  /** One or more statements, run in one transaction with the others of the same start. */
  sql: string
}

const INITIAL = /* sql */ `
CREATE FUNCTION epoch_ms(t timestamptz) RETURNS double precision
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT floor(extract(epoch FROM t) * 1000)::double precision $$;

-- One row per running hub. A hub acts for its agents only while lease_until > now().
CREATE TABLE hubs (
  hub_id      text PRIMARY KEY,
  runtime     text,
  started_at  timestamptz NOT NULL DEFAULT now(),
  lease_until timestamptz NOT NULL
);

-- Every agent any hub has seen. connected holds only while the hub in hub_id holds its lease;
-- connection_id names the socket, so a late close of an old socket cannot undo a newer one.
CREATE TABLE agents (
  agent_id      text PRIMARY KEY,
  hub_id        text,
  connection_id text,
  connected     boolean NOT NULL DEFAULT false,
  connected_at  timestamptz,
  last_seen     timestamptz,
  pm2_info      jsonb,
  supervised    boolean NOT NULL DEFAULT false,
  instance_id   text,
  drained       boolean NOT NULL DEFAULT false,
  quarantined   boolean NOT NULL DEFAULT false,
  stats         jsonb,
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agents_by_hub ON agents (hub_id) WHERE connected;

CREATE TABLE tasks (
  task_id     text PRIMARY KEY,
  -- Insertion order: the queue's order, and the tie-break when created_at is equal.
  seq         bigint GENERATED ALWAYS AS IDENTITY,
  status      text NOT NULL CHECK (status IN ('queued', 'assigned', 'working', 'completed', 'failed')),
  input       jsonb NOT NULL,
  -- The agent the task was pinned to at creation; only that agent may claim it.
  pinned      text,
  -- The agent running it now, or that ran it last; the hub that dispatched it.
  agent_id    text,
  hub_id      text,
  attempts    integer NOT NULL DEFAULT 0,
  result      jsonb,
  error       text,
  timeout_ms  integer NOT NULL CHECK (timeout_ms > 0),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  assigned_at timestamptz,
  -- assigned_at + timeout_ms: past it, the task is overdue.
  deadline_at timestamptz
);
CREATE INDEX tasks_queue ON tasks (seq) WHERE status = 'queued';
CREATE INDEX tasks_in_flight ON tasks (deadline_at) WHERE status IN ('assigned', 'working');
CREATE INDEX tasks_by_agent ON tasks (agent_id) WHERE status IN ('assigned', 'working');
CREATE INDEX tasks_finished ON tasks (updated_at) WHERE status IN ('completed', 'failed');

CREATE TABLE restarts (
  restart_id           text PRIMARY KEY,
  agent_id             text NOT NULL,
  reason               text NOT NULL,
  mode                 text NOT NULL,
  deadline_s           integer,
  state                text NOT NULL CHECK (state IN ('commanded', 'deferred', 'restarting', 'completed', 'failed')),
  requested_at         timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  error                text,
  before_restart_count integer,
  before_pid           integer,
  before_instance      text,
  rollout_id           text,
  -- The hub that delivered the command to the agent's socket.
  hub_id               text
);
CREATE INDEX restarts_by_agent ON restarts (agent_id, requested_at DESC);
-- At most one pending restart per agent, whichever hub asks.
CREATE UNIQUE INDEX restarts_one_pending ON restarts (agent_id)
  WHERE state IN ('commanded', 'deferred', 'restarting');

-- A running rollout is driven by its owner hub while lease_until > now(); then any hub takes it.
CREATE TABLE rollouts (
  rollout_id      text PRIMARY KEY,
  state           text NOT NULL CHECK (state IN ('running', 'completed', 'failed', 'cancelled')),
  reason          text NOT NULL,
  max_unavailable integer NOT NULL CHECK (max_unavailable >= 1),
  mode            text NOT NULL,
  deadline_s      integer,
  error           text,
  owner_hub_id    text,
  lease_until     timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rollouts_running ON rollouts (lease_until) WHERE state = 'running';

CREATE TABLE rollout_agents (
  rollout_id text NOT NULL REFERENCES rollouts ON DELETE CASCADE,
  position   integer NOT NULL,
  agent_id   text NOT NULL,
  restart_id text,
  error      text,
  PRIMARY KEY (rollout_id, position)
);

-- One row: whether healing is paused, and which hub decides for the whole fleet (its lease).
CREATE TABLE healing_state (
  id                  boolean PRIMARY KEY DEFAULT true CHECK (id),
  paused              boolean NOT NULL DEFAULT false,
  decider_hub_id      text,
  decider_lease_until timestamptz
);
INSERT INTO healing_state DEFAULT VALUES;

-- The budget's counters (per agent, per window, cooldown) are counted from these rows.
CREATE TABLE healing_actions (
  action_id  text PRIMARY KEY,
  agent_id   text NOT NULL,
  rule       text NOT NULL CHECK (rule IN ('crash_loop', 'memory', 'task_overdue')),
  action     text NOT NULL CHECK (action IN ('restart', 'quarantine', 'escalate')),
  detail     text NOT NULL,
  restart_id text,
  state      text NOT NULL,
  at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX healing_actions_by_agent ON healing_actions (agent_id, at DESC);
CREATE INDEX healing_actions_by_time ON healing_actions (at DESC);

-- Crashes seen (restarts no hub commanded), for the crash-loop rule; pruned past its window.
CREATE TABLE agent_crashes (
  agent_id text NOT NULL,
  at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agent_crashes_by_agent ON agent_crashes (agent_id, at);

-- Every token of the agent issued up to revoked_before is refused.
CREATE TABLE revoked_agents (
  agent_id       text PRIMARY KEY,
  revoked_before timestamptz NOT NULL
);

-- Single revoked tokens; a row past the token's own expiry can go (null: a token with no exp).
CREATE TABLE revoked_tokens (
  jti        text PRIMARY KEY,
  expires_at timestamptz,
  revoked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at) WHERE expires_at IS NOT NULL;

-- The SSE stream: fleet-wide ordered ids for Last-Event-ID; pruned by age.
CREATE TABLE events (
  id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind    text NOT NULL,
  payload jsonb NOT NULL,
  at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_by_time ON events (at);
`

// A rollout waits for an agent that is offline at its turn, from this moment, up to the restart
// timeout: kept in the row so the hub that takes the rollout over waits no longer.
const ROLLOUT_WAITING = /* sql */ `
ALTER TABLE rollout_agents ADD COLUMN waiting_since timestamptz;
`

// The events stream's id prefix, the same on every hub of this database (and a new one for a
// new database, so a client's Last-Event-ID from an old one gets a reset, not wrong events).
const CLUSTER_EPOCH = /* sql */ `
CREATE TABLE cluster_meta (
  id    boolean PRIMARY KEY DEFAULT true CHECK (id),
  epoch text NOT NULL
);
INSERT INTO cluster_meta (epoch) VALUES ('c' || substr(md5(random()::text || clock_timestamp()::text), 1, 8));
`

// Healing actions as each hub's healing records and updates them (its clock, to the
// millisecond), so every hub shows the same history.
const HEALING_ACTION_UPDATES = /* sql */ `
ALTER TABLE healing_actions ADD COLUMN updated_at timestamptz, ADD COLUMN hub_id text;
`

// Healing's fleet-wide decider (hub/healing/healing-decider.ts). The hubs holding agents file
// what healing should restart (one request per agent: an overdue task's force restart, or memory
// above the limit) and the decider, the one hub holding healing_state's decider lease, starts
// them within the budget, which it counts from healing_actions and restarts.
const HEALING_REQUESTS = /* sql */ `
CREATE TABLE healing_requests (
  agent_id text PRIMARY KEY,
  rule     text NOT NULL CHECK (rule IN ('memory', 'task_overdue')),
  detail   text NOT NULL,
  since    timestamptz NOT NULL DEFAULT now(),
  hub_id   text
);
CREATE INDEX healing_actions_by_restart ON healing_actions (restart_id) WHERE restart_id IS NOT NULL;
CREATE INDEX healing_actions_in_flight ON healing_actions (agent_id)
  WHERE action = 'restart' AND state IN ('commanded', 'deferred', 'restarting');
`

// The agent a task was last given to: only that agent's outcome or adoption of the task is
// accepted once the task is queued again (another agent never reports a task it was not given).
const TASK_LAST_AGENT = /* sql */ `
ALTER TABLE tasks ADD COLUMN last_agent_id text;
UPDATE tasks SET last_agent_id = agent_id WHERE agent_id IS NOT NULL;
`

// Enrollment (hub/pg/join-use-rows.ts): how many agents each join token has enrolled, counted by one
// upsert so that no number of hubs gets more than its max_uses. Host facts: the package version
// and host an agent's sidecar sent at its last identify.
const JOIN_TOKENS_AND_HOST_FACTS = /* sql */ `
CREATE TABLE join_token_uses (
  jti        text PRIMARY KEY,
  uses       integer NOT NULL CHECK (uses >= 0),
  expires_at timestamptz NOT NULL
);
ALTER TABLE agents ADD COLUMN version text, ADD COLUMN host jsonb;
`

// The audit trail (hub/access/audit-pg.ts): one row per audited request, newest by id. And the
// fleet alerts' episodes (hub/alerts/pg-fleet-alerts.ts): an agent's row while its offline alert
// is out; a rollout's flag once its failure alerted (rollouts failed before this are not alerted).
const AUDIT = /* sql */ `
CREATE TABLE audit (
  audit_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at       timestamptz NOT NULL,
  record   jsonb NOT NULL,
  actor    text NOT NULL,
  action   text NOT NULL,
  target   text
);
CREATE INDEX audit_by_actor ON audit (actor, audit_id);
CREATE INDEX audit_by_action ON audit (action, audit_id);
CREATE INDEX audit_by_target ON audit (target, audit_id);
CREATE TABLE alert_episodes (
  agent_id   text PRIMARY KEY,
  alerted_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE rollouts ADD COLUMN failure_alerted boolean NOT NULL DEFAULT true;
ALTER TABLE rollouts ALTER COLUMN failure_alerted SET DEFAULT false;
`

// Task control (CONTRACT.md, "Task control (v3)"): cancelled is final; labels a task wants and an
// agent has; retries with their delay (run_after: a retry waits until then); the list, newest first.
const TASK_CONTROL = /* sql */ `
ALTER TABLE tasks DROP CONSTRAINT tasks_status_check;
ALTER TABLE tasks ADD CONSTRAINT tasks_status_check
  CHECK (status IN ('queued', 'assigned', 'working', 'completed', 'failed', 'cancelled'));
ALTER TABLE tasks ADD COLUMN labels text[] NOT NULL DEFAULT '{}', ADD COLUMN retries integer NOT NULL DEFAULT 0,
  ADD COLUMN retry_delay_ms integer NOT NULL DEFAULT 1000, ADD COLUMN retried integer NOT NULL DEFAULT 0,
  ADD COLUMN run_after timestamptz;
ALTER TABLE agents ADD COLUMN labels text[] NOT NULL DEFAULT '{}';
CREATE INDEX tasks_newest ON tasks (seq DESC);
CREATE INDEX tasks_by_agent_newest ON tasks (agent_id, seq DESC);
-- What a task wrote, the newest MAX_OUTPUT_BYTES per task (task-control/output.ts). No foreign
-- key (a TRUNCATE of tasks alone must still work); whatever prunes tasks prunes their output too.
CREATE TABLE task_output (
  id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  task_id text NOT NULL,
  stream  text NOT NULL CHECK (stream IN ('stdout', 'stderr')),
  data    text NOT NULL,
  bytes   integer NOT NULL,
  at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_output_by_task ON task_output (task_id, id);
ALTER TABLE tasks ADD COLUMN output_truncated boolean NOT NULL DEFAULT false;
`

// Since when each hub has held its lease without a lapse: a hub acts on other hubs' lapsed
// leases only after holding its own this long (hub/cluster/lease.ts), and a hub whose lease
// lapsed learns from it whether another hub may have acted for its agents meanwhile.
const HUB_LIVE_SINCE = /* sql */ `
ALTER TABLE hubs ADD COLUMN live_since timestamptz NOT NULL DEFAULT now();
`

// Enrolled agent ids (hub/pg/join-use-rows.ts): one row per id, its key taken in the enrollment's
// transaction, so of concurrent enrollments of one id on any hubs exactly one succeeds.
const ENROLLED_AGENTS = /* sql */ `
CREATE TABLE enrolled_agents (
  agent_id       text PRIMARY KEY,
  remember_until timestamptz NOT NULL
);
`

// A task's input and result are any JSON (CONTRACT.md), U+0000 and lone surrogates included,
// which jsonb refuses. json keeps the text as written (JSON.stringify's \u escapes) and checks
// only its syntax; postgres.js parses it on reading, as it did jsonb. The events' payloads carry
// tasks, so they change too. Nothing queries inside these columns (json has no equality).
const ANY_JSON = /* sql */ `
ALTER TABLE tasks ALTER COLUMN input TYPE json USING input::json, ALTER COLUMN result TYPE json USING result::json;
ALTER TABLE events ALTER COLUMN payload TYPE json USING payload::json;
`

// Cancelled tasks are finished too (rules.ts isFinished): kept and forgotten with the completed
// and failed ones (task-queue.ts pruneFinishedTasks), as one hub does. The retention's index
// left them out, and the prune with it, so they were never forgotten.
const CANCELLED_RETAINED = /* sql */ `
DROP INDEX tasks_finished;
CREATE INDEX tasks_finished ON tasks (updated_at) WHERE status IN ('completed', 'failed', 'cancelled');
`

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial cluster schema', sql: INITIAL },
  { version: 2, name: 'rollout agents waiting since', sql: ROLLOUT_WAITING },
  { version: 3, name: 'cluster epoch for event ids', sql: CLUSTER_EPOCH },
  { version: 4, name: 'healing actions: updated_at, hub_id', sql: HEALING_ACTION_UPDATES },
  { version: 5, name: 'healing requests for the fleet-wide decider', sql: HEALING_REQUESTS },
  { version: 6, name: 'tasks: the agent each was last given to', sql: TASK_LAST_AGENT },
  { version: 7, name: 'join-token uses, agents\' version and host', sql: JOIN_TOKENS_AND_HOST_FACTS },
  { version: 8, name: 'audit trail and alert episodes', sql: AUDIT },
  { version: 9, name: 'task control: cancelled, labels, retries', sql: TASK_CONTROL },
  { version: 10, name: 'hubs: live since', sql: HUB_LIVE_SINCE },
  { version: 11, name: 'enrolled agent ids', sql: ENROLLED_AGENTS },
  { version: 12, name: 'task input, result and event payloads as json: any JSON kept exactly', sql: ANY_JSON },
  { version: 13, name: 'claims for several agents in one statement', sql: CLAIM_TASKS },
  { version: 14, name: 'epoch_ms inlined', sql: EPOCH_MS_INLINED },
  { version: 15, name: 'events: one row for the views of one write', sql: EVENT_ROWS_OF_VIEWS },
  { version: 16, name: 'tasks: cancelled ones forgotten as finished ones', sql: CANCELLED_RETAINED },
]
