/**
 * The healing budget's settings. Their names, defaults and ranges are rows of the hub's one
 * settings table (settings.ts, AGENTCOM_HEAL_*); this maps each field to its row. Bad values
 * throw at construction, naming the variable, never mid-run.
 */
import { rangeMessage, type Setting } from '../../shared/settings.ts'
import { HUB_SETTINGS as S } from '../config/settings.ts'

export interface HealingSettings {
  /** AGENTCOM_HEAL_CRASH_LIMIT (3): unplanned restarts within the window that quarantine an agent. */
  crashLimit: number
  /** AGENTCOM_HEAL_WINDOW_S (600): the window for crash counting and the per-agent restart limit. */
  windowS: number
  /** AGENTCOM_HEAL_MAX_MEMORY_MB (unset: the memory rule is off). */
  maxMemoryMb: number | null
  /** AGENTCOM_HEAL_MAX_CONCURRENT (1): healing restarts in flight in the whole fleet. */
  maxConcurrent: number
  /** AGENTCOM_HEAL_COOLDOWN_S (300): quiet time after an agent's last healing restart ended. */
  cooldownS: number
  /** AGENTCOM_HEAL_MAX_PER_AGENT (3): healing restarts per agent within the window. */
  maxPerAgent: number
}

/** Each field's row in the settings table. */
export const HEALING_ROWS = {
  crashLimit: S.healCrashLimit,
  windowS: S.healWindowS,
  maxMemoryMb: S.healMaxMemoryMb,
  maxConcurrent: S.healMaxConcurrent,
  cooldownS: S.healCooldownS,
  maxPerAgent: S.healMaxPerAgent,
} as const satisfies Record<keyof HealingSettings, Setting>

export const HEALING_DEFAULTS: HealingSettings = {
  crashLimit: S.healCrashLimit.default,
  windowS: S.healWindowS.default,
  maxMemoryMb: S.healMaxMemoryMb.default,
  maxConcurrent: S.healMaxConcurrent.default,
  cooldownS: S.healCooldownS.default,
  maxPerAgent: S.healMaxPerAgent.default,
}

/** The `policy` of `GET /api/admin/healing`, the same on both stores. */
export function policyView(s: HealingSettings): { crash_limit: number; window_s: number; max_memory_mb: number | null; max_concurrent: number; cooldown_s: number; max_per_agent: number } {
  return { crash_limit: s.crashLimit, window_s: s.windowS, max_memory_mb: s.maxMemoryMb, max_concurrent: s.maxConcurrent, cooldown_s: s.cooldownS, max_per_agent: s.maxPerAgent }
}

/** Defaults first, then `partial`; throws `<VARIABLE> must be an integer from ...` on a bad value. */
export function resolveHealingSettings(partial: Partial<HealingSettings> = {}): HealingSettings {
  const settings: HealingSettings = { ...HEALING_DEFAULTS }
  for (const [key, value] of Object.entries(partial) as [keyof HealingSettings, number | null | undefined][]) {
    if (value === undefined) continue
    if (!(key in HEALING_ROWS)) throw new Error(`unknown healing setting ${key}`)
    if (value === null && key === 'maxMemoryMb') {
      settings.maxMemoryMb = null
      continue
    }
    const row: Setting = HEALING_ROWS[key]
    if (typeof value !== 'number' || !Number.isInteger(value) || value < row.min! || value > row.max!) {
      throw new Error(`${rangeMessage(row)}, got ${String(value)}`)
    }
    settings[key] = value
  }
  return settings
}
