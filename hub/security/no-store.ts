/**
 * A Server-Sent Events answer under /api/ (the events stream, a task's output): hono's streamSSE
 * marks it `no-cache`, which a cache may still store; API answers are `no-store` (CONTRACT.md,
 * "Hardening (v3)"), streams included, as the security headers' middleware would have set.
 */
export function noStore(res: Response): Response {
  res.headers.set('cache-control', 'no-store')
  return res
}
