import { describe, expect, it } from 'vitest'
import * as v from 'valibot'
import { HubMessage, SidecarMessage } from '../../shared/protocol.ts'
import { variantOption } from '../../shared/variant-index.ts'

/** What a parse says, paths as keys: the part decode() turns into its answer. */
function outcome(result: v.SafeParseResult<v.GenericSchema>) {
  return result.success
    ? { output: result.output }
    : { issues: result.issues.map((i) => ({ message: i.message, path: i.path?.map((p) => p.key) })) }
}

describe('variantOption', () => {
  const frames: Record<string, unknown>[] = [
    { type: 'task_accepted', task_id: 't1' },
    { type: 'task_complete', task_id: 't1', result: { n: 1 } },
    { type: 'task_complete', task_id: '', result: null },
    { type: 'task_complete', task_id: 't1' },
    { type: 'task_accepted', task_id: 7 },
    { type: 'no_such_type', task_id: 't1' },
    { type: 42 },
    { task_id: 't1' },
    { type: 'identify', agent_id: 'a1', token: 'x', protocol_version: 99, pm2_info: null, supervised: true },
  ]

  it('parses a frame as the variant does: same output, same issues at the same paths', () => {
    for (const frame of frames) {
      expect(outcome(v.safeParse(variantOption(SidecarMessage, frame), frame))).toEqual(outcome(v.safeParse(SidecarMessage, frame)))
    }
    const assign = { type: 'task_assign', task_id: 't1', input: null, timeout_ms: 'soon' }
    expect(outcome(v.safeParse(variantOption(HubMessage, assign), assign))).toEqual(outcome(v.safeParse(HubMessage, assign)))
  })

  it('takes the one option a frame names, and the variant itself for a type no option or two options have', () => {
    expect(variantOption(SidecarMessage, { type: 'task_accepted' })).not.toBe(SidecarMessage)
    expect(variantOption(SidecarMessage, { type: 'no_such_type' })).toBe(SidecarMessage)
    const twice = v.variant('type', [
      v.object({ type: v.literal('a'), n: v.number() }),
      v.object({ type: v.literal('a'), s: v.string() }),
      v.object({ type: v.literal('b') }),
    ])
    expect(variantOption(twice, { type: 'a', s: 'x' })).toBe(twice)
    expect(variantOption(twice, { type: 'b' })).toBe(twice.options[2])
  })
})
