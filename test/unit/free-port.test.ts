/**
 * support/free-port.ts: ports for servers that cannot listen on 0 come from below the kernel's
 * ephemeral range, where no concurrent test's outgoing connection can take them before the
 * server binds (start-cluster's Deno hub once lost its port that way).
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { freePort, freePortPair } from '../../support/free-port.ts'
import { portsInUse } from '../../scripts/ports-in-use.ts'

const [ephemeralLow] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)

describe('free ports for tests', () => {
  it('freePort gives a free port below the ephemeral range', async () => {
    const port = await freePort()
    expect(port).toBeGreaterThan(1023)
    expect(port).toBeLessThan(ephemeralLow)
    expect(await portsInUse('127.0.0.1', [port])).toEqual([])
  })

  it('freePortPair gives two free consecutive ports below the ephemeral range', async () => {
    const port = await freePortPair()
    expect(port + 1).toBeLessThan(ephemeralLow)
    expect(await portsInUse('127.0.0.1', [port, port + 1])).toEqual([])
  })
})
