import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parseJlist, toPm2Info, type JlistEntry } from '../../sidecar/jlist.ts'

const fixture = (name: string) => readFileSync(new URL(`../fixtures/pm2/${name}`, import.meta.url), 'utf8')

const SECRET = 'fixture-secret-do-not-leak'
const ALPHA_STARTED_AT = 1795828692763
const BETA_STARTED_AT = 1795828690534

describe('parseJlist on captured pm2 output', () => {
  it('reads both apps of jlist-two-apps.json', () => {
    expect(parseJlist(fixture('jlist-two-apps.json'))).toEqual([
      {
        name: 'alpha', pm_id: 0, pid: 2807, status: 'online',
        started_at: ALPHA_STARTED_AT, restart_count: 1, memory_bytes: 53805056,
      },
      {
        name: 'beta', pm_id: 1, pid: null, status: 'stopped',
        started_at: BETA_STARTED_AT, restart_count: 0, memory_bytes: 0,
      },
    ])
  })

  it('reads an empty list as [] (not null)', () => {
    expect(parseJlist(fixture('jlist-empty.json'))).toEqual([])
  })

  it('skips the coloured [PM2] banner that precedes the JSON', () => {
    const text = fixture('jlist-banner.txt')
    // The fixture really has ANSI codes and a banner line starting with '[' before the JSON.
    expect(text).toContain('\u001b[32m[PM2] \u001b[39mSpawning PM2 daemon')
    expect(text.startsWith('[]')).toBe(false)
    expect(parseJlist(text)).toEqual([])
  })

  it('reads jlist-banner-color.txt the same way', () => {
    expect(parseJlist(fixture('jlist-banner-color.txt'))).toEqual([])
  })

  it('finds a non-empty list after a banner', () => {
    const banner = fixture('jlist-banner.txt').replace(/\[\]$/, '')
    const parsed = parseJlist(banner + fixture('jlist-two-apps.json'))
    expect(parsed?.map((p) => p.name)).toEqual(['alpha', 'beta'])
  })

  it('strips ANSI codes wrapped around the JSON itself', () => {
    expect(parseJlist('\u001b[0m[{"name":"x","pm_id":3}]\u001b[0m\n')).toEqual([
      { name: 'x', pm_id: 3, pid: null, status: 'unknown', started_at: null, restart_count: 0, memory_bytes: null },
    ])
  })
})

describe('parseJlist on anything else', () => {
  it.each([
    ['an empty string', ''],
    ['plain text', 'command not found: pm2\n'],
    ['a JSON object', '{"name":"alpha","pm_id":0}'],
    ['a truncated array', '[{"name":"alpha","pm_id":0}'],
    ['a banner only', '\u001b[32m[PM2] \u001b[39mSpawning PM2 daemon\n'],
    ['an array after text on the same line', 'result: [{"name":"alpha","pm_id":0}]'],
  ])('returns null for %s', (_label, stdout) => {
    expect(parseJlist(stdout)).toBeNull()
  })

  it('skips entries that are not objects or lack a name or pm_id', () => {
    const stdout = JSON.stringify([
      null, 42, 'alpha', [],
      { name: 'no-id' },
      { pm_id: 7 },
      { name: 'bad-id', pm_id: '7' },
      { name: 'nan-id', pm_id: null },
      { name: 'kept', pm_id: 9 },
    ])
    expect(parseJlist(stdout)?.map((p) => p.name)).toEqual(['kept'])
  })

  it('falls back to pm2_env for name and pm_id', () => {
    const [entry] = parseJlist(JSON.stringify([{ pm2_env: { name: 'from-env', pm_id: 4 } }])) ?? []
    expect(entry).toMatchObject({ name: 'from-env', pm_id: 4 })
  })

  it('defaults the fields it can do without', () => {
    const stdout = JSON.stringify([
      { name: 'bare', pm_id: 2 },
      { name: 'junk', pm_id: 3, pid: 'x', pm2_env: 'x', monit: null },
      { name: 'typed-wrong', pm_id: 5, pid: -1, pm2_env: { status: 1, pm_uptime: '5', restart_time: 'x' }, monit: { memory: '1' } },
    ])
    const defaults = { pid: null, status: 'unknown', started_at: null, restart_count: 0, memory_bytes: null }
    expect(parseJlist(stdout)).toEqual([
      { name: 'bare', pm_id: 2, ...defaults },
      { name: 'junk', pm_id: 3, ...defaults },
      { name: 'typed-wrong', pm_id: 5, ...defaults },
    ])
  })
})

describe('secrets in pm2_env', () => {
  it('never copies the environment pm2 keeps in pm2_env', () => {
    const stdout = fixture('jlist-two-apps.json')
    // Guard: the fixture really carries the secret, so the checks below can fail.
    expect(stdout).toContain(SECRET)
    const parsed = parseJlist(stdout)
    expect(parsed).not.toBeNull()
    const infos = parsed!.map((entry) => toPm2Info(entry, ALPHA_STARTED_AT + 1000))
    for (const out of [JSON.stringify(parsed), JSON.stringify(infos)]) {
      expect(out).not.toContain(SECRET)
      expect(out).not.toContain('SECRET_TOKEN')
      expect(out).not.toContain('PM2_HOME')
      expect(out).not.toContain('/tmp/pm2-fixture')
    }
  })

  it('returns only the documented fields', () => {
    const [alpha] = parseJlist(fixture('jlist-two-apps.json')) ?? []
    expect(Object.keys(alpha!).sort()).toEqual(
      ['memory_bytes', 'name', 'pid', 'pm_id', 'restart_count', 'started_at', 'status'],
    )
  })
})

describe('toPm2Info', () => {
  const [alpha, beta] = parseJlist(fixture('jlist-two-apps.json')) as [JlistEntry, JlistEntry]

  it('computes uptime_ms from the given now for an online process', () => {
    expect(toPm2Info(alpha, ALPHA_STARTED_AT + 90_000)).toEqual({
      name: 'alpha', pm_id: 0, pid: 2807, status: 'online',
      uptime_ms: 90_000, restart_count: 1, memory_bytes: 53805056,
    })
  })

  it('has no uptime for a stopped process', () => {
    expect(toPm2Info(beta, BETA_STARTED_AT + 90_000)).toEqual({
      name: 'beta', pm_id: 1, pid: null, status: 'stopped',
      uptime_ms: null, restart_count: 0, memory_bytes: 0,
    })
  })

  it('clamps uptime to 0 when now is before the start (clock skew)', () => {
    expect(toPm2Info(alpha, ALPHA_STARTED_AT - 5000).uptime_ms).toBe(0)
  })

  it('has no uptime when the start time is unknown', () => {
    expect(toPm2Info({ ...alpha, started_at: null }, ALPHA_STARTED_AT).uptime_ms).toBeNull()
  })
})
