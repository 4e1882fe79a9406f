/**
 * A hub whose port another process holds says so in one line and exits 1 (pm2 tries again
 * later; the holder may go away), on the runtime under test: no stack trace.
 */
import { createServer, type Server } from 'node:net'
import { rm } from 'node:fs/promises'
import { afterEach, describe, expect, it } from 'vitest'
import { startHubProcess } from '../../support/hub-process.ts'
import { freePort } from '../../support/free-port.ts'

let held: Server | null = null
afterEach(async () => {
  await new Promise((resolve) => held ? held.close(resolve) : resolve(undefined))
  held = null
})

describe('a hub on a port in use', () => {
  it('exits 1 with one line naming the address', async () => {
    const port = await freePort()
    held = createServer()
    await new Promise<void>((resolve, reject) => held!.once('error', reject).listen(port, '127.0.0.1', resolve))
    const failure = await startHubProcess({ PORT: String(port) }).then(async (hub) => {
      await hub.stop()
      await rm(hub.dataDir, { recursive: true, force: true })
      return null
    }, (err: Error) => err.message)
    expect(failure).toMatch(/^hub exited with 1:/)
    const lines = failure!.split('\n').slice(1).filter((line) => !line.startsWith('{'))
    expect(lines).toEqual([`agentcom hub: cannot listen on 127.0.0.1:${port}: the address is in use (another hub or process holds it; set PORT or HOST)`])
  })
})
