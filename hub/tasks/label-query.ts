/**
 * `?label=<l>` on GET /api/admin/agents, repeatable (all must match): read with every value,
 * which the `query()` validator (first values only) cannot. A bad label is 400 invalid_request.
 */
import * as v from 'valibot'
import type { MiddlewareHandler } from 'hono'
import { Label, MAX_LABELS } from '../../shared/labels.ts'
import { formatIssues, invalid } from '../api/validate.ts'

export const labelsOf: MiddlewareHandler<{ Variables: { labels: string[] } }> = async (c, next) => {
  const labels = c.req.queries('label') ?? []
  const parsed = v.safeParse(v.pipe(v.array(Label), v.maxLength(MAX_LABELS, `at most ${MAX_LABELS} labels`)), labels)
  if (!parsed.success) return c.json(invalid(formatIssues(parsed.issues).map((i) => ({ ...i, path: 'label' }))), 400)
  c.set('labels', parsed.output)
  await next()
}
