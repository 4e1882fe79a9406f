/**
 * One hub's admin answers that change the fleet state (a restart, a drain, a resume) go out
 * once the change is in the data dir, as a cluster's go out once their rows are committed: a
 * hub killed right after the answer still has what it acknowledged. The change itself is made
 * first (the restart is sent to the agent at once); only the answer waits for the save, which
 * starts then rather than after the saver's spacing. A save that fails answers 503
 * storage_unavailable; the change stays in memory and is saved when the disk is back.
 */
import { StorageUnavailable, type AdminBackend } from '../api/admin.ts'
import type { FleetSaver } from './fleet-saver.ts'

export function answerOnceSaved(admin: AdminBackend, saver: Pick<FleetSaver, 'durableNow'> | null): AdminBackend {
  if (!saver) return admin
  const saved = async <T>(answer: T, what: string): Promise<T> => {
    await saver.durableNow().catch(() => {
      throw new StorageUnavailable(`the ${what} could not be saved`)
    })
    return answer
  }
  return {
    ...admin,
    async restart(agentId, cmd) {
      const answer = await admin.restart(agentId, cmd)
      return answer.ok ? saved(answer, 'restart') : answer
    },
    async drain(agentId) {
      const answer = await admin.drain(agentId)
      return answer ? saved(answer, 'drain') : answer
    },
    async resume(agentId) {
      const answer = await admin.resume(agentId)
      return answer ? saved(answer, 'resume') : answer
    },
  }
}
