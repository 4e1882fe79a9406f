/**
 * The `agentcom` command's frame: the verb table, usage errors (exit 2, with the verb's usage),
 * the token verb's arguments, and the hub addresses `join` takes.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { main } from '../../cli/main.ts'
import { parseTokenArgs } from '../../cli/token.ts'
import { hubUrls } from '../../cli/hub-url.ts'
import { VERBS } from '../../cli/verbs.ts'
import type { CliIo } from '../../cli/args.ts'
import { PM2_BIN } from '../../support/pm2.ts'

function io(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = []
  const stderr: string[] = []
  return { env: {}, out: (t) => stdout.push(t), err: (t) => stderr.push(t), stdout, stderr }
}

describe('agentcom', () => {
  it('lists every verb of the table and exits 2 without one', async () => {
    const o = io()
    expect(await main([], o)).toBe(2)
    // A usage error like any other: the usage on stderr, stdout left to what scripts read.
    expect(o.stdout).toEqual([])
    for (const verb of Object.keys(VERBS)) expect(o.stderr.join('\n')).toContain(`  ${verb}`)
    const help = io()
    expect(await main(['--help'], help)).toBe(0)
    expect(help.stdout.join('\n')).toContain('usage: agentcom <verb>')
  })

  it('refuses an unknown verb with exit 2', async () => {
    const o = io()
    expect(await main(['frobnicate'], o)).toBe(2)
    expect(o.stderr[0]).toMatch(/^agentcom: unknown verb "frobnicate"\nusage: agentcom <verb>/)
  })

  it.each([
    [['join']], [['join', 'http://h:1']], [['join', 'http://h:1', '--id', 'a b', '--token', 't']], [['join', 'ftp://h', '--id', 'a', '--token', 't']],
    [['join', 'http://h:1', '--id', 'a', '--bogus']], [['hub', 'extra']], [['sidecar', '--port', '1']], [['token', 'agent']],
  ])('exits 2 with the verb\'s usage for %j', async (args) => {
    const o = io()
    expect(await main(args, o)).toBe(2)
    expect(o.stderr.join('\n')).toContain(`usage: agentcom ${args[0]}`)
    expect(o.stdout).toEqual([])
  })

  it('refuses a bad log setting with exit 78 and one line', async () => {
    const o = { ...io(), env: { AGENTCOM_LOG_LEVEL: 'loud' } }
    expect(await main(['token', 'admin'], o)).toBe(78)
    expect(o.stderr).toEqual(['agentcom token: AGENTCOM_LOG_LEVEL must be debug, info, warn or error'])
    expect(o.stdout).toEqual([])
  })

  it('shows a verb\'s usage on --help, exit 0', async () => {
    const o = io()
    expect(await main(['join', '--help'], o)).toBe(0)
    expect(o.stdout[0]).toMatch(/^usage: agentcom join <hub url> --token <join token> --id <agent_id>/)
  })
})

describe('agentcom token arguments', () => {
  it('reads admin, agent and join requests', () => {
    expect(parseTokenArgs(['admin'])).toEqual({ role: 'admin', ttlS: undefined, access: 'admin', name: 'admin' })
    expect(parseTokenArgs(['admin', '--role', 'viewer', '--name', 'grafana', '--ttl', '30d']))
      .toEqual({ role: 'admin', ttlS: 30 * 86_400, access: 'viewer', name: 'grafana' })
    expect(parseTokenArgs(['agent', 'w-1', '--ttl', '2h'])).toEqual({ role: 'agent', sub: 'w-1', ttlS: 7200 })
    expect(parseTokenArgs(['join'])).toEqual({ role: 'join', ttlS: 3600, maxUses: 1, labels: [], prefix: null })
    expect(parseTokenArgs(['join', '--ttl', '1d', '--max-uses', '50', '--labels', 'gpu,zone=eu', '--prefix', 'web-']))
      .toEqual({ role: 'join', ttlS: 86_400, maxUses: 50, labels: ['gpu', 'zone=eu'], prefix: 'web-' })
  })

  it.each([
    [['join', '--ttl', '30s'], '--ttl must be'], [['join', '--ttl', '31d'], '--ttl must be'], [['join', '--max-uses', '0'], '--max-uses'],
    [['join', '--max-uses', '1.5'], '--max-uses'], [['join', '--labels', 'a b'], '--labels'], [['admin', '--max-uses', '2'], 'for join tokens only'],
    [['admin', '--role', 'root'], '--role must be viewer, operator or admin'], [['agent', 'w-1', '--role', 'viewer'], 'for admin tokens'],
  ])('refuses %j', (args, message) => {
    expect(() => parseTokenArgs(args)).toThrow(message)
  })
})

describe('hub addresses', () => {
  it.each([
    ['http://hub.example:8787', 'http://hub.example:8787', 'ws://hub.example:8787/ws'],
    ['https://hub.example/', 'https://hub.example', 'wss://hub.example/ws'],
    ['ws://10.0.0.5:8787/ws', 'http://10.0.0.5:8787', 'ws://10.0.0.5:8787/ws'],
    ['wss://hub.example/ws', 'https://hub.example', 'wss://hub.example/ws'],
  ])('%s is the API at %s and the socket at %s', (text, http, ws) => {
    expect(hubUrls(text)).toEqual({ http, ws })
  })

  it.each(['hub.example:8787', 'ftp://hub', 'http://hub/api', 'ws://hub/', 'http://u:p@hub', 'http://hub?x=1'])('refuses %s', (text) => {
    expect(hubUrls(text)).toBeNull()
  })
})

describe('agentcom join, labels', () => {
  it('refuses more than 32 labels with the join token\'s, before it writes settings or starts a sidecar (exit 2)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'agentcom-join-labels-'))
    try {
      // Enrolled before: its token kept, the join token's 20 labels in its settings.
      const joinLabels = Array.from({ length: 20 }, (_, i) => `j${i}`).join(',')
      const settings = JSON.stringify({ apps: [{ env: { AGENTCOM_JOIN_LABELS: joinLabels, AGENTCOM_LABELS: joinLabels } }] })
      await writeFile(join(dir, 'w-1.token'), 'a-token\n')
      await writeFile(join(dir, 'w-1.pm2.json'), settings)
      const own = Array.from({ length: 13 }, (_, i) => `o${i}`).join(',')
      // Its own PM2_HOME: were the refusal missing, join would start pm2 there, never in ~/.pm2.
      const o = { ...io(), env: { PM2_HOME: join(dir, 'pm2'), PM2_SILENT: 'true' } }
      o.out = (t) => o.stdout.push(t)
      o.err = (t) => o.stderr.push(t)
      expect(await main(['join', 'http://127.0.0.1:9', '--id', 'w-1', '--config-dir', dir, '--labels', own], o)).toBe(2)
      expect(o.stderr.join('\n')).toMatch(/^agentcom join: 33 labels with the join token's 20: at most 32/)
      expect(await readFile(join(dir, 'w-1.pm2.json'), 'utf8')).toBe(settings)
    } finally {
      if (existsSync(join(dir, 'pm2', 'pm2.pid'))) spawnSync(process.execPath, [PM2_BIN, 'kill'], { env: { ...process.env, PM2_HOME: join(dir, 'pm2') } })
      await rm(dir, { recursive: true, force: true })
    }
  })
})
