/** The IPC messages between swarm.ts and swarm-child.ts, and what each agent recorded. */
import type { HubLinkOptions } from '../../../sidecar/hub-link.ts'

export interface SwarmStart {
  type: 'start'
  hubUrl: string
  dataDir: string
  ledger: string
  taskCommand: string
  agents: { agentId: string; token: string }[]
  link?: Partial<Pick<HubLinkOptions, 'pingIntervalMs' | 'pongTimeoutMs' | 'backoffBaseMs' | 'backoffMaxMs'>>
  /** Replaces the link's Math.random (the backoff jitter) with a constant: the no-jitter control. */
  fixedRandom?: number
  /** pm2's delay before starting a sidecar that exited, uniform in [min, max] ms. */
  restartDelayMs: [number, number]
  /** pm_id of this child's first agent, so every agent in the swarm has its own. */
  pmIdBase: number
}

export type ParentCommand = SwarmStart | { type: 'report'; id: number } | { type: 'stop' }

export type ChildReply =
  | { type: 'started' }
  | { type: 'report'; id: number; agents: AgentLog[]; problems: string[] }
  | { type: 'stopped' }

/** Times are epoch milliseconds (one machine, one clock). */
export interface AgentLog {
  agentId: string
  /** How many times it exited and was started again (its current pm2 restart_count). */
  generation: number
  /** Socket opened to the hub. */
  opens: number[]
  /** `identified` received. */
  identified: number[]
  /** [time, close code] of every socket close. */
  closes: [number, number][]
  /** Its ping got no answer in time: the link dropped a dead hub. */
  deadHub: number[]
  /** [time, restart_id of the agent_restarting it sent] per exit for a restart. */
  exits: [number, string | null][]
  restartsReceived: [number, string][]
  assigns: [number, string][]
  /** [time, type, task or restart id, written to the socket?] of every frame but identify and ping. */
  sent: [number, string, string, boolean][]
  acks: [number, string][]
  cancels: [number, string][]
  /** Warning and error log lines, as the real logger wrote them (first 100). */
  warnings: string[]
}
