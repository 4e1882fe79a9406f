/**
 * Deno's file access for the audit trail (hub/access/audit-file.ts), with the same durability
 * as hub/node/audit-files.ts: an append resolves once it is on disk.
 */
import type { AuditFiles } from '../access/audit-file.ts'
import { denoStateFiles, writeFileAtomic } from './platform.ts'

export const denoAuditFiles: AuditFiles = {
  read: denoStateFiles.read,
  async append(path, text) {
    const file = await Deno.open(path, { append: true, create: true, mode: 0o600 })
    try {
      const bytes = new TextEncoder().encode(text)
      for (let at = 0; at < bytes.length;) at += await file.write(bytes.subarray(at))
      await file.sync()
    } finally {
      file.close()
    }
  },
  writeAtomic: writeFileAtomic,
}
