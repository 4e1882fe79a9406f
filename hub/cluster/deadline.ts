/**
 * The bound on a request's wait for the database. postgres.js has no query timeout, and a
 * query waits as long as its connection takes to open (up to `connect_timeout`, 10 s, against a
 * host that does not answer): a request waits at most REQUEST_DEADLINE_MS and is answered 503
 * `storage_unavailable`. The query itself may still complete later: a write answered 503 this
 * way may have been applied (the contract promises only that a 201 was).
 */
import { StorageUnavailable } from '../api/admin.ts'
import { isConnectionError } from '../pg/connect.ts'

export const REQUEST_DEADLINE_MS = 5000

/** Runs `work`; a connection failure or no answer within `ms` is StorageUnavailable. */
export async function storageBound<T>(work: () => Promise<T>, ms = REQUEST_DEADLINE_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StorageUnavailable(`the database did not answer within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([work(), deadline])
  } catch (err) {
    if (isConnectionError(err)) throw new StorageUnavailable(String(err))
    throw err
  } finally {
    clearTimeout(timer)
  }
}
