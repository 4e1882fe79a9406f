/**
 * What a single hub keeps in its data dir, opened and read before it starts, on either runtime:
 * revocations, join-token uses, tasks, restarts and rollouts (the fleet state), the audit trail,
 * and where task output goes. All of it is read here, in one step, so that a file the hub cannot
 * read (a directory in its place, a root-owned file) stops the start with the entry's one line
 * (config/start-failures.ts) rather than a stack trace. Cluster mode keeps all of it in PostgreSQL.
 */
import type { Clock } from '../../shared/time.ts'
import type { Logger } from '../../shared/log.ts'
import type { HubOptions } from '../config/hub-options.ts'
import { TASKS_FILE } from '../config/config.ts'
import { REVOCATIONS_FILE, openFileRevocationStore } from '../auth/revocations.ts'
import { JOIN_USES_FILE, openFileJoinUses } from '../enroll/join-uses.ts'
import { createFileTaskStore } from '../tasks/task-store.ts'
import { OUTPUT_DIR, type OutputFiles } from '../tasks/file-output.ts'
import { FLEET_STATE_FILE, createFileFleetStateStore } from './fleet-state.ts'
import { AUDIT_FILE, openFileAuditStore, type AuditFiles } from '../access/audit-file.ts'
import type { TaskFiles } from './state-files.ts'
import { ConfigError } from '../../shared/settings.ts'

/** The runtime's file operations (hub/node/, hub/deno/). */
export interface DataDirFiles {
  state: TaskFiles
  audit: AuditFiles
  output: OutputFiles
}

export type DataDirStores = Required<Pick<HubOptions,
  'revocations' | 'joinUses' | 'taskStore' | 'restoredTasks' | 'fleetStateStore' | 'audit' | 'outputFiles'>> &
  Pick<HubOptions, 'restoredFleetState'>

export async function openDataDir(dataDir: string, files: DataDirFiles, clock: Clock, log: Logger): Promise<DataDirStores> {
  const tasksPath = `${dataDir}/${TASKS_FILE}`
  const fleetStatePath = `${dataDir}/${FLEET_STATE_FILE}`
  const taskStore = createFileTaskStore(tasksPath, files.state, log)
  const fleetStateStore = createFileFleetStateStore(fleetStatePath, files.state, log)
  return {
    revocations: await naming(`${dataDir}/${REVOCATIONS_FILE}`, (path) => openFileRevocationStore(path, files.state, clock, log)),
    joinUses: await naming(`${dataDir}/${JOIN_USES_FILE}`, (path) => openFileJoinUses(path, files.state, clock, log)),
    taskStore,
    restoredTasks: await naming(tasksPath, () => taskStore.load()),
    fleetStateStore,
    restoredFleetState: await naming(fleetStatePath, () => fleetStateStore.load()),
    audit: await naming(`${dataDir}/${AUDIT_FILE}`, (path) => openFileAuditStore(path, files.audit, { log })),
    outputFiles: { dir: `${dataDir}/${OUTPUT_DIR}`, files: files.output },
  }
}

/**
 * Runs `open` on one file; a system error that does not name the file gets its path in front
 * (Node's read of a directory says only "EISDIR: illegal operation on a directory, read"), with
 * its code and name kept for start-failures.ts. A ConfigError already says which file and what to do.
 */
async function naming<T>(path: string, open: (path: string) => Promise<T>): Promise<T> {
  try {
    return await open(path)
  } catch (err) {
    if (!(err instanceof Error) || err instanceof ConfigError || err.message.includes(path)) throw err
    const named = new Error(`${path}: ${err.message}`, { cause: err })
    throw Object.assign(named, { name: err.name, code: (err as { code?: unknown }).code })
  }
}
