/** The bare Hono baseline on Deno: Deno.serve with hono/deno, wired as hub/deno.ts wires the hub. */
import { upgradeWebSocket } from 'hono/deno'
import { createBareApp } from './hono-app.ts'
import { deno } from './deno-api.ts'

const app = createBareApp(upgradeWebSocket)
deno.serve({
  port: Number(deno.env.get('PORT') ?? 0),
  hostname: '127.0.0.1',
  onListen: ({ port }) => console.log(JSON.stringify({ msg: 'listening', url: `http://127.0.0.1:${port}` })),
}, app.fetch)
deno.addSignalListener('SIGTERM', () => deno.exit(0))
