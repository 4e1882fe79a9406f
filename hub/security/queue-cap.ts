/**
 * AGENTCOM_MAX_QUEUED_TASKS: at most that many tasks wait in the queue. Past it a new task is
 * refused (503 `queue_full`) and nothing is created, on one hub (the memory task store's count) and in
 * cluster mode (the database's, hub/pg/queue-cap-rows.ts). Portable: no imports.
 */

/** Thrown by a backend's createTask when the queue is full; app.ts answers it 503 `queue_full`. */
export class QueueFull extends Error {
  constructor(readonly max: number) {
    super(`the task queue is full (${max} queued)`)
  }
}
