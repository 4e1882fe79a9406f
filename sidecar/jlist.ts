/**
 * Parses `pm2 jlist` output. Pure, and reads only the fields it needs: pm2's environment
 * (`pm2_env.env` and the top of `pm2_env`) holds secrets and is never copied out.
 */
import type { Pm2Info } from '../shared/protocol.ts'

/** The fields of one pm2 process that AgentCom uses. */
export interface JlistEntry {
  name: string
  pm_id: number
  pid: number | null
  status: string
  /** Epoch ms when pm2 last started it. */
  started_at: number | null
  restart_count: number
  memory_bytes: number | null
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g

/**
 * Returns the processes in `stdout`, or null when no JSON array can be found.
 * Tolerates banners and colour codes before the JSON (pm2 prints them when it spawns a daemon).
 */
export function parseJlist(stdout: string): JlistEntry[] | null {
  const text = stdout.replace(ANSI, '')
  const raw = findJsonArray(text)
  if (!raw) return null
  const entries: JlistEntry[] = []
  for (const item of raw) {
    const entry = toEntry(item)
    if (entry) entries.push(entry)
  }
  return entries
}

function findJsonArray(text: string): unknown[] | null {
  // The JSON starts at a line beginning with '['; banners are lines before it.
  for (let at = text.indexOf('['); at !== -1; at = text.indexOf('[', at + 1)) {
    if (at > 0 && text[at - 1] !== '\n') continue
    try {
      const parsed: unknown = JSON.parse(text.slice(at))
      if (Array.isArray(parsed)) return parsed
    } catch {
      // Not the JSON (a banner line that starts with '['): try the next line.
    }
  }
  return null
}

const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null)
const str = (x: unknown): string | null => (typeof x === 'string' ? x : null)

function toEntry(item: unknown): JlistEntry | null {
  if (typeof item !== 'object' || item === null) return null
  const p = item as Record<string, unknown>
  const env = (typeof p.pm2_env === 'object' && p.pm2_env !== null ? p.pm2_env : {}) as Record<string, unknown>
  const monit = (typeof p.monit === 'object' && p.monit !== null ? p.monit : {}) as Record<string, unknown>
  const pmId = num(p.pm_id) ?? num(env.pm_id)
  const name = str(p.name) ?? str(env.name)
  if (pmId === null || name === null) return null
  const pid = num(p.pid)
  return {
    name,
    pm_id: pmId,
    pid: pid && pid > 0 ? pid : null,
    status: str(env.status) ?? 'unknown',
    started_at: num(env.pm_uptime),
    restart_count: num(env.restart_time) ?? 0,
    memory_bytes: num(monit.memory),
  }
}

/** The contract's Pm2Info for one entry, as of `now`. */
export function toPm2Info(entry: JlistEntry, now: number): Pm2Info {
  return {
    name: entry.name,
    pm_id: entry.pm_id,
    pid: entry.pid,
    status: entry.status,
    uptime_ms: entry.status === 'online' && entry.started_at !== null ? Math.max(0, now - entry.started_at) : null,
    restart_count: entry.restart_count,
    memory_bytes: entry.memory_bytes,
  }
}
