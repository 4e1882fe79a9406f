/**
 * Node's file access for the audit trail (hub/access/audit-file.ts): appends that are on disk
 * (fsync) before they resolve, and atomic rewrites for compaction.
 */
import { open } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { AuditFiles } from '../access/audit-file.ts'
import { readTextOrNull, writeFileAtomic } from '../../shared/node/files.ts'
import { appendSynced } from './append-file-calls.ts'

/** Files whose directory entry is known to be on disk. */
const durableEntries = new Set<string>()

export const nodeAuditFiles: AuditFiles = {
  read: readTextOrNull,
  async append(path, text) {
    await appendSynced(path, text)
    // The file may have just been created: its name is durable once its directory is.
    if (durableEntries.has(path)) return
    const dir = await open(dirname(path), 'r')
    try {
      await dir.sync()
    } finally {
      await dir.close()
    }
    durableEntries.add(path)
  },
  writeAtomic: writeFileAtomic,
}
