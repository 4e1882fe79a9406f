/**
 * The `identified` frame is written from a template (hub/agents/identify.ts), not from an object:
 * it must be the very text JSON.stringify makes of the message, whatever the agent id holds, and
 * decode as a HubMessage.
 */
import { describe, expect, it } from 'vitest'
import { identifiedFrame } from '../../hub/agents/identify.ts'
import { HubMessage } from '../../shared/protocol.ts'
import * as v from 'valibot'

describe('the identified frame', () => {
  it.each(['w-1', 'bench-agent-9999', 'a"b\\\\c', 'é\u2028x', '\u0000\ud800'])('is JSON.stringify of the message for %j', (agentId) => {
    const text = identifiedFrame(agentId)
    expect(text).toBe(JSON.stringify({ type: 'identified', agent_id: agentId }))
    expect(v.parse(HubMessage, JSON.parse(text))).toEqual({ type: 'identified', agent_id: agentId })
  })
})
