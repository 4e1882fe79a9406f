/**
 * The hub's view types held to the answer schemas (shared/api-schemas.ts) at compile time, so
 * the document cannot drift from what the routes send: each view must be assignable to its
 * schema's type, and have no field the schema does not name. A failure here reads
 * "Type 'false' does not satisfy the constraint 'true'": add the field to the schema.
 */
import type { InferOutput } from 'valibot'
import type * as S from '../../shared/api-schemas.ts'
import type { AgentView, RolloutView, TaskView } from './admin.ts'
import type { HealingAction, HealingView } from '../healing/healing-policy.ts'
import type { restartCommandedView } from './views.ts'

type Agrees<View, Schema> = [View] extends [Schema] ? ([Exclude<keyof View, keyof Schema>] extends [never] ? true : false) : false
type Expect<T extends true> = T

export type Checks = [
  Expect<Agrees<AgentView, S.Agent>>,
  Expect<Agrees<NonNullable<AgentView['restart']>, InferOutput<typeof S.Restart>>>,
  Expect<Agrees<NonNullable<AgentView['stats']>, InferOutput<typeof S.AgentStats>>>,
  Expect<Agrees<TaskView, S.Task>>,
  Expect<Agrees<RolloutView, S.Rollout>>,
  Expect<Agrees<RolloutView['agents'][number], InferOutput<typeof S.RolloutAgent>>>,
  Expect<Agrees<HealingView, S.HealingView>>,
  Expect<Agrees<HealingAction, S.HealingAction>>,
  Expect<Agrees<ReturnType<typeof restartCommandedView>, S.RestartCommanded>>,
]
