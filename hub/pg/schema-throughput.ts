/**
 * Migrations for the cluster's cost per task (schema.ts's list), kept here so the schema's list
 * stays short. Shipped: never edit one, replace it in a later migration.
 *
 * CLAIM_TASKS: the claim of several free agents' tasks as one function, so a hub claims for a
 * group of its free agents in one statement and one commit (task-queue.ts claimTasks); a claim
 * per task was the largest share of the statements per task left under the
 * cluster_task_throughput load once the reports were batched.
 */
// Claims for several free agents of one hub in one statement (hub/pg/task-queue.ts claimTasks),
// the one claim rule: applied again for the agents left until none may run a queued task, so
// the oldest queued task any of them may run goes to the first (in the order given) that may,
// each time. A row another claimer has locked is skipped, never waited on. Which agents may take
// a task at all is read once, at the start.
export const CLAIM_TASKS = /* sql */ `
CREATE FUNCTION claim_tasks(free_agents text[], claimer text, max_claims integer) RETURNS SETOF tasks
  LANGUAGE plpgsql AS $$
DECLARE
  -- The agents that may take a task now, in the order given: held by this hub under a live
  -- lease, connected, holding no task. Read once; each agent given a task leaves the list.
  waiting text[];
  claimed tasks;
BEGIN
  SELECT array_agg(w.agent_id ORDER BY w.n) INTO waiting
  FROM unnest(free_agents) WITH ORDINALITY AS w(agent_id, n)
  JOIN agents a ON a.agent_id = w.agent_id JOIN hubs h ON h.hub_id = a.hub_id
  WHERE a.hub_id = claimer AND a.connected AND h.lease_until > now()
    AND NOT EXISTS (SELECT 1 FROM tasks busy WHERE busy.agent_id = a.agent_id AND busy.status IN ('assigned', 'working'));
  FOR i IN 1..max_claims LOOP
    EXIT WHEN coalesce(cardinality(waiting), 0) = 0;
    UPDATE tasks SET status = 'assigned', agent_id = pick.free_agent, last_agent_id = pick.free_agent, hub_id = claimer,
      attempts = attempts + 1, assigned_at = now(), deadline_at = now() + timeout_ms * interval '1 millisecond',
      updated_at = now(), run_after = NULL
    FROM (
      SELECT t.task_id AS free_task, free.agent_id AS free_agent FROM tasks t
      CROSS JOIN LATERAL (
        SELECT w.agent_id FROM unnest(waiting) WITH ORDINALITY AS w(agent_id, n)
        WHERE (t.pinned IS NULL OR t.pinned = w.agent_id)
          -- A task wanting no labels needs no look at the agent's.
          AND (t.labels = '{}' OR t.labels <@ (SELECT a.labels FROM agents a WHERE a.agent_id = w.agent_id))
        ORDER BY w.n LIMIT 1) free
      WHERE t.status = 'queued' AND (t.run_after IS NULL OR t.run_after <= now())
      ORDER BY t.seq
      LIMIT 1
      FOR UPDATE OF t SKIP LOCKED) pick
    WHERE tasks.task_id = pick.free_task
    RETURNING tasks.* INTO claimed;
    EXIT WHEN NOT FOUND;
    waiting := array_remove(waiting, claimed.agent_id);
    RETURN NEXT claimed;
  END LOOP;
END $$;
`

// EPOCH_MS_INLINED: epoch_ms as PostgreSQL can inline it. Its body called extract(epoch FROM
// timestamptz), which PostgreSQL marks STABLE, so the IMMUTABLE function was never inlined: each
// time read was a call of its own (about 20 per task under the cluster_task_throughput load). The epoch of
// the difference from the epoch is the same number, and immutable throughout.
export const EPOCH_MS_INLINED = /* sql */ `
CREATE OR REPLACE FUNCTION epoch_ms(t timestamptz) RETURNS double precision
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT floor(extract(epoch FROM (t - '1970-01-01 00:00:00+00'::timestamptz)) * 1000)::double precision $$;
`

// EVENT_ROWS_OF_VIEWS: one row of the events table for all the views one write inserts
// (hub/pg/event-rows.ts): a row per view was about 4.5 rows per task under the cluster_task_throughput load, each with its
// index entries. Such a row holds `views` events, ids id - views + 1 .. id, its payload the
// array of them ({kind, payload}); a row of one view is as before.
export const EVENT_ROWS_OF_VIEWS = /* sql */ `
ALTER TABLE events ADD COLUMN views integer NOT NULL DEFAULT 1 CHECK (views >= 1);
`
