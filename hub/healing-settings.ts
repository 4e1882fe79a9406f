/**
 * The healing budget's settings, named as the environment names them (AGENTCOM_HEAL_*), with
 * their defaults. Bad values throw at construction, naming the setting, never mid-run.
 */

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

export const HEALING_DEFAULTS: HealingSettings = {
  crashLimit: 3,
  windowS: 600,
  maxMemoryMb: null,
  maxConcurrent: 1,
  cooldownS: 300,
  maxPerAgent: 3,
}

/** The accepted range of each setting, by its field; the same bounds the env parser should use. */
export const HEALING_RANGES = {
  crashLimit: [1, 1000],
  windowS: [1, 7 * 86_400],
  maxMemoryMb: [1, 1024 * 1024],
  maxConcurrent: [1, 10_000],
  cooldownS: [0, 7 * 86_400],
  maxPerAgent: [1, 1000],
} as const satisfies Record<keyof HealingSettings, readonly [number, number]>

/** Defaults first, then `partial`; throws `healing setting <name> must be ...` on a bad value. */
export function resolveHealingSettings(partial: Partial<HealingSettings> = {}): HealingSettings {
  const settings: HealingSettings = { ...HEALING_DEFAULTS }
  for (const [key, value] of Object.entries(partial) as [keyof HealingSettings, number | null | undefined][]) {
    if (value === undefined) continue
    if (!(key in HEALING_RANGES)) throw new Error(`unknown healing setting ${key}`)
    if (value === null && key === 'maxMemoryMb') {
      settings.maxMemoryMb = null
      continue
    }
    const [min, max] = HEALING_RANGES[key]
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new Error(`healing setting ${key} must be an integer from ${min} to ${max}, got ${String(value)}`)
    }
    settings[key] = value
  }
  return settings
}
