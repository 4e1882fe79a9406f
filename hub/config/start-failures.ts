/**
 * The one line a hub prints when its start fails for a reason outside it, on either runtime:
 * Node's system errors carry a `code` (EADDRINUSE), Deno's are named classes (AddrInUse). Null
 * for any other error, which ends the process as it would have.
 */
const IN_USE = 'the address is in use (another hub or process holds it; set PORT or HOST)'
const NO_PRIVILEGE = 'permission denied (ports below 1024 need privileges; set PORT)'
const NO_ADDRESS = 'this machine has no such address (set HOST)'
const LISTEN: Record<string, string> = {
  EADDRINUSE: IN_USE, AddrInUse: IN_USE,
  EACCES: NO_PRIVILEGE, PermissionDenied: NO_PRIVILEGE,
  EADDRNOTAVAIL: NO_ADDRESS, AddrNotAvailable: NO_ADDRESS,
}

/** Errors that say the data dir is not one this process can use: a setting to fix, not a fault to retry. */
const UNUSABLE_DIR = new Set([
  'EACCES', 'EPERM', 'ENOTDIR', 'EISDIR', 'EROFS', 'ELOOP', 'ENAMETOOLONG',
  'PermissionDenied', 'NotADirectory', 'IsADirectory', 'FilesystemLoop', 'NotCapable',
])

function kindOf(err: Error): string[] {
  const code = (err as { code?: unknown }).code
  return typeof code === 'string' ? [code, err.name] : [err.name]
}

/** `agentcom hub: cannot listen on <host>:<port>: <why>`, or null. */
export function listenFailure(err: unknown, host: string, port: number): string | null {
  if (!(err instanceof Error)) return null
  const kind = kindOf(err).find((k) => Object.hasOwn(LISTEN, k))
  return kind ? `agentcom hub: cannot listen on ${host}:${port}: ${LISTEN[kind]}` : null
}

/** `AGENTCOM_DATA_DIR <dir> cannot be used: <the system's words>` (a configuration error), or null. */
export function dataDirFailure(err: unknown, dataDir: string): string | null {
  if (!(err instanceof Error) || !kindOf(err).some((k) => UNUSABLE_DIR.has(k))) return null
  return `AGENTCOM_DATA_DIR ${dataDir} cannot be used: ${err.message}`
}
