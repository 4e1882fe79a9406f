/**
 * A sidecar given several hubs (a cluster) moves on to the next when one refuses or drops it,
 * against real WebSocket servers.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { createServer } from 'node:net'
import { WebSocketServer } from 'ws'
import { createHubLink, type HubLink } from '../../sidecar/hub-link.ts'
import { silentLogger } from '../../shared/log.ts'

const servers: WebSocketServer[] = []
let link: HubLink | null = null
afterEach(async () => {
  await link?.close()
  link = null
  for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve))
})

async function wsServer(): Promise<{ server: WebSocketServer; url: string }> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  servers.push(server)
  await new Promise((resolve) => server.once('listening', resolve))
  return { server, url: `ws://127.0.0.1:${(server.address() as { port: number }).port}/ws` }
}

/** A port nothing listens on: connections to it are refused. */
async function deadUrl(): Promise<string> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as { port: number }
  await new Promise((resolve) => probe.close(resolve))
  return `ws://127.0.0.1:${port}/ws`
}

describe('hub link with several hubs', () => {
  it('moves to the next hub when its hub drops the connection', async () => {
    const first = await wsServer()
    const second = await wsServer()
    const opened: string[] = []
    const onConnection = (name: string) => (socket: import('ws').WebSocket) => {
      opened.push(name)
      if (name === 'first') socket.close(1001, 'going away')
    }
    first.server.on('connection', onConnection('first'))
    second.server.on('connection', onConnection('second'))
    let opens = 0
    const twoOpens = new Promise<void>((resolve) => {
      link = createHubLink({
        url: [first.url, second.url], log: silentLogger,
        backoffBaseMs: 10, backoffMaxMs: 20,
        onOpen: () => {
          if (++opens === 2) resolve()
        },
        onMessage: () => {},
      })
    })
    await twoOpens
    expect(opened).toEqual(['first', 'second'])
  })

  it('reaches the second hub when the first is down', async () => {
    const up = await wsServer()
    const dead = await deadUrl()
    const opened = new Promise<void>((resolve) => {
      link = createHubLink({ url: [dead, up.url], log: silentLogger, backoffBaseMs: 10, backoffMaxMs: 20, onOpen: resolve, onMessage: () => {} })
    })
    await opened
    expect(link!.connected).toBe(true)
    expect(up.server.clients.size).toBe(1)
  })
})
