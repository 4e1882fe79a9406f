/**
 * Labels on agents and tasks (CONTRACT.md, "Task control"): `name` or `name=value`, each part 1 to
 * 64 characters of `A-Za-z0-9._-`, at most 32 on an agent. A wanted label matches an agent label
 * equal to it. The one definition the sidecar, the hub and the cluster's SQL all follow.
 */
import * as v from 'valibot'

export const MAX_LABELS = 32
const LABEL_PATTERN = /^[A-Za-z0-9._-]{1,64}(=[A-Za-z0-9._-]{1,64})?$/
const LABEL_MESSAGE = 'a label is `name` or `name=value`, each 1 to 64 characters of A-Za-z0-9._-'

export const Label = v.pipe(v.string(), v.regex(LABEL_PATTERN, LABEL_MESSAGE))
export const Labels = v.pipe(v.array(Label), v.maxLength(MAX_LABELS, `at most ${MAX_LABELS} labels`))

/**
 * AGENTCOM_LABELS: comma-separated, blanks around each ignored, repeats dropped. Throws an Error
 * naming what is wrong (the sidecar's config turns it into exit 78).
 */
export function parseLabelList(text: string): string[] {
  const labels = [...new Set(text.split(',').map((l) => l.trim()).filter((l) => l !== ''))]
  for (const label of labels) if (!LABEL_PATTERN.test(label)) throw new Error(`${LABEL_MESSAGE} (got ${JSON.stringify(label.slice(0, 80))})`)
  if (labels.length > MAX_LABELS) throw new Error(`at most ${MAX_LABELS} labels (got ${labels.length})`)
  return labels
}

/** Whether an agent with `have` carries every label of `wanted` (an empty `wanted` matches any agent). */
export function hasLabels(have: readonly string[], wanted: readonly string[]): boolean {
  return wanted.every((label) => have.includes(label))
}
