/**
 * The option of a `v.variant(key, [...])` schema that a value's discriminator names, found by one
 * lookup. valibot's variant tries the options' discriminators in turn and builds a full issue
 * (its message text included) for each option that does not match: about ten issue objects for
 * every frame an agent sends (9 KB of garbage per task in the hub's heap profile under the
 * task_throughput load). Parsing with the one option whose literal matches gives the same output
 * and the same issues as the variant does when exactly one option has that literal; anything
 * else (no match, a literal two options share, nested variants) goes through the variant itself.
 */
import type * as v from 'valibot'

type Schema = v.GenericSchema<unknown, unknown>
type Variant = { type: 'variant'; key: string; options: readonly Schema[] }

const indexes = new WeakMap<object, Map<unknown, Schema> | null>()

export function variantOption<T>(schema: v.GenericSchema<unknown, T>, value: object): v.GenericSchema<unknown, T> {
  let index = indexes.get(schema)
  if (index === undefined) {
    index = build(schema as unknown as Variant)
    indexes.set(schema, index)
  }
  if (index === null) return schema
  const option = index.get((value as Record<string, unknown>)[(schema as unknown as Variant).key])
  return (option as v.GenericSchema<unknown, T> | undefined) ?? schema
}

function build(schema: Variant): Map<unknown, Schema> | null {
  if (schema.type !== 'variant') return null
  const index = new Map<unknown, Schema>()
  const shared = new Set<unknown>()
  for (const option of schema.options) {
    const entry = (option as unknown as { entries?: Record<string, { type: string; literal?: unknown }> }).entries?.[schema.key]
    if (entry?.type !== 'literal' || typeof entry.literal !== 'string') return null
    if (index.has(entry.literal)) shared.add(entry.literal)
    index.set(entry.literal, option)
  }
  for (const literal of shared) index.delete(literal)
  return index
}
