/**
 * The one line a hub prints when it cannot listen, on either runtime: Node's listen errors
 * carry a `code` (EADDRINUSE), Deno's are named classes (AddrInUse). Null for any other error,
 * which ends the process as it would have.
 */
const REASONS: Record<string, string> = {
  EADDRINUSE: 'the address is in use (another hub or process holds it; set PORT or HOST)',
  AddrInUse: 'the address is in use (another hub or process holds it; set PORT or HOST)',
  EACCES: 'permission denied (ports below 1024 need privileges; set PORT)',
  PermissionDenied: 'permission denied (ports below 1024 need privileges; set PORT)',
  EADDRNOTAVAIL: 'this machine has no such address (set HOST)',
  AddrNotAvailable: 'this machine has no such address (set HOST)',
}

export function listenFailure(err: unknown, host: string, port: number): string | null {
  if (!(err instanceof Error)) return null
  const key = (err as { code?: unknown }).code
  const reason = (typeof key === 'string' && Object.hasOwn(REASONS, key) ? REASONS[key] : undefined) ??
    (Object.hasOwn(REASONS, err.name) ? REASONS[err.name] : undefined)
  return reason ? `agentcom hub: cannot listen on ${host}:${port}: ${reason}` : null
}
