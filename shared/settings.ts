/**
 * The shape of a settings table, shared by the hub's and the sidecar's: one row per
 * environment variable (type, range, default, meaning). Each table feeds its environment
 * parser, its defaults, its error messages and the README's configuration tables.
 * Portable: parsers take an env record, never a runtime's environment object.
 */

/** Exit code for a configuration error (sysexits EX_CONFIG); pm2 is told not to restart on it. */
export const EXIT_CONFIG = 78

/** A bad setting; its one-line message names the variable. Entries print it and exit EXIT_CONFIG. */
export class ConfigError extends Error {}

export type Env = Record<string, string | undefined>

export interface Setting {
  env: string
  type: 'integer' | 'string' | 'url' | 'secret' | 'agent id' | 'command' | 'path' | 'names' | 'user'
  /** Integers: the accepted range, inclusive. */
  min?: number
  max?: number
  /** The range in words when it is not min to max. */
  range?: string
  /** The value when unset; null when there is none. */
  default: number | string | null
  /** Shown instead of the default (`required`, or who sets it). */
  defaultText?: string
  meaning: string
}

/** `NAME must be an integer from MIN to MAX`: the one wording for an integer out of range. */
export function rangeMessage(s: Setting): string {
  return `${s.env} must be an integer from ${s.min} to ${s.max}`
}

/**
 * An integer setting, or undefined when unset or empty. Digits only: Number(" ") is 0 and
 * Number("0x10") is 16, neither what was meant. The message quotes the value it refuses.
 */
export function readInteger(env: Env, s: Setting): number | undefined {
  const raw = env[s.env]
  if (raw === undefined || raw === '') return undefined
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN
  if (!Number.isInteger(n) || n < s.min! || n > s.max!) throw new ConfigError(`${rangeMessage(s)}, got ${JSON.stringify(raw)}`)
  return n
}

/** The README table for `settings`: the one the README test compares with. */
export function settingsMarkdown(settings: Record<string, Setting>): string {
  const rows = Object.values(settings).map((s) => {
    const range = s.range ?? (s.type === 'integer' ? `${s.min} to ${s.max}` : '—')
    const def = s.defaultText ?? (s.default === null ? '—' : `\`${s.default}\``)
    return `| \`${s.env}\` | ${s.type} | ${range} | ${def} | ${s.meaning} |`
  })
  return ['| variable | type | range | default | meaning |', '| --- | --- | --- | --- | --- |', ...rows].join('\n')
}
