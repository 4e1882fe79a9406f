/**
 * How a hub message reaches an agent's connection. The core sends through an AgentBus and
 * never holds a socket: the local bus delivers to a connection of this process; a cluster's
 * bus also reaches connections held by other hubs.
 */
import type { HubMessage } from '../../shared/protocol.ts'

/** What the hub needs of a live connection, whatever the runtime. */
export interface Peer {
  send(message: HubMessage): void
  close(code: number, reason: string): void
}

export interface AgentBus {
  /** Sends to the agent's connection; false when it has none. */
  sendToAgent(agentId: string, message: HubMessage): boolean
  /** Closes the agent's connection, if it has one. */
  closeAgent(agentId: string, code: number, reason: string): void
}

/** A bus over this process's connections, found by `peerOf` (the fleet's presence). */
export function createLocalBus(peerOf: (agentId: string) => Peer | null): AgentBus {
  return {
    sendToAgent(agentId, message) {
      const peer = peerOf(agentId)
      peer?.send(message)
      return peer !== null
    },
    closeAgent(agentId, code, reason) {
      peerOf(agentId)?.close(code, reason)
    },
  }
}
