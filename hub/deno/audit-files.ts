/**
 * Deno's file access for the audit trail (hub/access/audit-file.ts), with the same durability
 * as hub/node/audit-files.ts: an append resolves once it is on disk.
 */
import type { AuditFiles } from '../access/audit-file.ts'
import { denoStateFiles, writeFileAtomic } from './platform.ts'
import { appendSynced } from './append-file-calls.ts'

export const denoAuditFiles: AuditFiles = { read: denoStateFiles.read, append: appendSynced, writeAtomic: writeFileAtomic }
