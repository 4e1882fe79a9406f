/**
 * The few Deno APIs the Deno baselines use, typed here so that `tsc` (which has Node's types
 * and not Deno's) checks these files too. Only Deno runs them.
 */
export interface DenoApi {
  serve(
    options: { port: number; hostname: string; onListen(addr: { port: number }): void },
    handler: (request: Request) => Response | Promise<Response>,
  ): unknown
  upgradeWebSocket(request: Request): { socket: WebSocket; response: Response }
  env: { get(name: string): string | undefined }
  addSignalListener(signal: 'SIGTERM', handler: () => void): void
  exit(code: number): never
}

export const deno = (globalThis as unknown as { Deno: DenoApi }).Deno
