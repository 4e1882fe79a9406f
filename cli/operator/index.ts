/**
 * The operator verbs of `agentcom` (CONTRACT.md "Operator CLI and OpenAPI"): each takes its
 * arguments and the process's streams and environment, and resolves to its exit code.
 */
import { agent, agents, drain, restart, resume } from './agents.ts'
import { events } from './events.ts'
import { audit, healing } from './healing.ts'
import { rollout } from './rollout.ts'
import { cancel, logs, run, task, tasks } from './tasks.ts'
import type { Verb } from './verb.ts'

export type { Verb, VerbIo } from './verb.ts'

export const operatorVerbs: Record<string, Verb> = {
  agents, agent, restart, drain, resume, rollout, run, tasks, task, cancel, logs, events, healing, audit,
}
