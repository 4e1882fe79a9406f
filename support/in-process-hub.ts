/**
 * The one in-process test hub: createHub with a WebSocket transport that opens a recording
 * socket at once for each upgrade (as a runtime adapter would after the handshake), for unit
 * tests that drive the hub's socket handling frame by frame, with no server and no port. HTTP
 * goes through `hub.app.request`. Tests that need a real server use support/store-hub.ts (one
 * hub on either store) or support/cluster-hubs.ts. `createTestHub`: the same hub, for tests that
 * use no socket.
 */
import type { WSContext, WSEvents } from 'hono/ws'
import { createHub, type Hub, type HubOptions } from '../hub/app.ts'

export interface FakeSocket {
  /** The hub's handlers for this socket. */
  events: WSEvents
  /** What the hub sent, each frame parsed. */
  sent: any[]
  /** The close codes the hub used. */
  closes: number[]
  /** A frame from the peer: text or binary (a Blob, bytes) goes as it is, any other value as its JSON text. */
  send(frame: unknown): void
  /** The connection drops, without a close frame from either side. */
  drop(): void
}

/** A hub without a cluster: its tasks are in its memory, their admin surface (create, list, get) at hand. */
export type OneHub = Hub & { tasks: NonNullable<Hub['tasks']> }

export interface InProcessHub {
  hub: OneHub
  /** Every socket the hub opened, in order. */
  opened: FakeSocket[]
  /** An upgrade request on /ws; resolves with the socket it opened. */
  upgrade(): Promise<FakeSocket>
}

type Ctx = { req: { header(name: string): string | undefined } }

const isRaw = (frame: unknown) => typeof frame === 'string' || frame instanceof ArrayBuffer || ArrayBuffer.isView(frame) || frame instanceof Blob

export function startInProcessHub(options: Omit<HubOptions, 'upgradeWebSocket'>): InProcessHub {
  const opened: FakeSocket[] = []
  const upgradeWebSocket = (createEvents: (c: Ctx) => WSEvents | Promise<WSEvents>) => async (c: Ctx, next: () => Promise<void>) => {
    if (c.req.header('upgrade') !== 'websocket') return next()
    const events = await createEvents(c)
    const ws = {
      send: (text: string) => sock.sent.push(JSON.parse(text)),
      close: (code: number) => sock.closes.push(code),
      raw: null, readyState: 1,
    } as unknown as WSContext
    const sock: FakeSocket = {
      events, sent: [], closes: [],
      send: (frame) => events.onMessage?.(new MessageEvent('message', { data: isRaw(frame) ? frame : JSON.stringify(frame) }), ws),
      drop: () => events.onClose?.(new Event('close') as never, ws),
    }
    opened.push(sock)
    events.onOpen?.(new Event('open'), ws)
    return new Response('upgraded')
  }
  const hub = oneHub(createHub({ ...options, upgradeWebSocket: upgradeWebSocket as never }))
  return {
    hub, opened,
    async upgrade() {
      await hub.app.request('/ws', { headers: { upgrade: 'websocket' } })
      return opened.at(-1)!
    },
  }
}

/** The in-process hub alone, for tests that drive only its HTTP routes and owners. */
export function createTestHub(options: Omit<HubOptions, 'upgradeWebSocket'>): OneHub {
  return startInProcessHub(options).hub
}

function oneHub(hub: Hub): OneHub {
  if (hub.tasks.isShared) throw new Error('this hub\'s tasks are a cluster\'s rows (its admin reads them): use support/cluster-hubs.ts')
  return hub as OneHub
}
