/**
 * What the OpenAPI document says of each route beyond what its validators tell (openapi.ts):
 * a summary and the schema of each answer, from shared/api-schemas.ts. One line per route,
 * keyed `METHOD /path` as the hub registers it. A registered route without a line here is
 * still in the document, with a generic JSON answer; a line whose route is not registered is
 * left out. Every /api route needs the bearer token unless marked `public`. `400
 * invalid_request` (for routes that validate), `401 unauthorized` and the generic error answer
 * are added to every route; list here only the other answers.
 */
import * as v from 'valibot'
import type { GenericSchema } from 'valibot'
import * as S from '../../shared/api-schemas.ts'

/**
 * An answer that is a Server-Sent Events stream: described in words, with the schema of each
 * event's data by event name (published as the response's `x-events`).
 */
export interface EventStreamAnswer {
  eventStream: string
  events?: Record<string, GenericSchema>
  /** The JSON answer the route gives when not asked for the stream (a query parameter says which). */
  json?: GenericSchema
}

export interface RouteDoc {
  operationId: string
  summary: string
  /** No token needed. */
  public?: boolean
  responses: Record<number, GenericSchema | EventStreamAnswer>
}

const E = S.ErrorBody

export const ROUTE_DOCS: Record<string, RouteDoc> = {
  'GET /api/openapi.json': { operationId: 'getOpenApi', summary: 'This document', public: true, responses: { 200: S.OpenApiDocument } },
  'GET /api/admin/agents': { operationId: 'listAgents', summary: 'Every agent (or one page), filtered', responses: { 200: S.AgentList } },
  'GET /api/admin/agents/:agent_id': { operationId: 'getAgent', summary: 'One agent', responses: { 200: S.Agent, 404: E } },
  'POST /api/admin/agents/:agent_id/restart': { operationId: 'restartAgent', summary: 'Restart an agent under pm2', responses: { 200: S.RestartCommanded, 404: E, 409: E } },
  'POST /api/admin/agents/:agent_id/drain': { operationId: 'drainAgent', summary: 'No new task for this agent', responses: { 200: S.Agent, 404: E } },
  'POST /api/admin/agents/:agent_id/resume': { operationId: 'resumeAgent', summary: 'Take tasks again (lifts a quarantine)', responses: { 200: S.Agent, 404: E } },
  'POST /api/admin/agents/:agent_id/tokens': { operationId: 'mintAgentToken', summary: 'Mint an agent token', responses: { 201: S.AgentTokenMinted } },
  'POST /api/admin/agents/:agent_id/revoke': { operationId: 'revokeAgentTokens', summary: 'Revoke every token of an agent minted so far', responses: { 200: S.AgentTokensRevoked } },
  'POST /api/admin/tokens/revoke': { operationId: 'revokeToken', summary: 'Revoke one token by jti', responses: { 200: S.TokenRevoked } },
  'POST /api/admin/tokens': { operationId: 'mintAdminToken', summary: 'Mint an admin-audience token with a role', responses: { 201: S.AdminTokenMinted } },
  'POST /api/admin/join-tokens': { operationId: 'mintJoinToken', summary: 'Mint a join token for enrollment', responses: { 201: S.JoinTokenMinted } },
  'POST /api/enroll': { operationId: 'enroll', summary: 'Trade a join token (bearer) for an agent token', responses: { 201: S.Enrolled, 409: E } },
  'GET /api/admin/events': {
    operationId: 'streamEvents', summary: 'Server-Sent Events of every change',
    responses: {
      200: {
        eventStream: 'Every event has an `id:` to send back as `Last-Event-ID`; `event: reset` (data `{}`) when the hub cannot replay what was missed',
        events: { agent: S.Agent, task: S.Task, rollout: S.Rollout, healing: S.HealingAction, audit: S.AuditRecord },
      },
    },
  },
  'GET /api/admin/healing': { operationId: 'getHealing', summary: 'Healing: paused, policy and actions', responses: { 200: S.HealingView } },
  'POST /api/admin/healing/pause': { operationId: 'pauseHealing', summary: 'Start no healing action', responses: { 200: S.HealingView } },
  'POST /api/admin/healing/resume': { operationId: 'resumeHealing', summary: 'Heal again', responses: { 200: S.HealingView } },
  'POST /api/admin/tasks': { operationId: 'createTask', summary: 'Create a task (or one per agent with all)', responses: { 201: v.union([S.Task, S.TaskFanOut]), 503: E } },
  'GET /api/admin/tasks': { operationId: 'listTasks', summary: 'Tasks, newest first', responses: { 200: S.TaskList } },
  'GET /api/admin/tasks/:task_id': { operationId: 'getTask', summary: 'One task', responses: { 200: S.Task, 404: E } },
  'POST /api/admin/tasks/:task_id/cancel': { operationId: 'cancelTask', summary: 'Cancel a task', responses: { 200: S.Task, 404: E, 409: E } },
  'GET /api/admin/tasks/:task_id/output': {
    operationId: 'getTaskOutput', summary: 'What a task wrote (?follow=1: Server-Sent Events)',
    responses: {
      200: {
        json: S.TaskOutput,
        eventStream: 'With ?follow=1: `event: output` for each chunk from the start of what is kept, live while the task runs, then `event: end` with the final Task',
        events: { output: S.OutputChunk, end: S.Task },
      },
      404: E,
    },
  },
  'POST /api/admin/rollouts': { operationId: 'createRollout', summary: 'Start a rolling restart', responses: { 201: S.Rollout, 404: E, 409: E } },
  'GET /api/admin/rollouts/:rollout_id': { operationId: 'getRollout', summary: 'One rollout', responses: { 200: S.Rollout, 404: E } },
  'POST /api/admin/rollouts/:rollout_id/cancel': { operationId: 'cancelRollout', summary: 'Start no further restart', responses: { 200: S.Rollout, 404: E } },
  'GET /api/admin/audit': { operationId: 'listAudit', summary: 'The audit trail, newest first', responses: { 200: S.AuditPage } },
}
