/**
 * The verbs of `agentcom`, each its own module, loaded only when it runs (a sidecar never loads
 * the hub). A new verb is one line here and one module beside it.
 */
import type { VerbModule } from './args.ts'
import { operatorVerbEntries } from './operator/entries.ts'

export interface VerbEntry {
  summary: string
  load(): Promise<VerbModule>
}

export const VERBS: Record<string, VerbEntry> = {
  hub: { summary: 'run the hub, foreground (Hub environment)', load: () => import('./hub.ts') },
  sidecar: { summary: 'run one sidecar, foreground (Sidecar environment)', load: () => import('./sidecar.ts') },
  token: { summary: 'print an admin, agent or join token (on the hub\'s machine)', load: () => import('./token.ts') },
  join: { summary: 'enroll this machine\'s agent and start it under pm2', load: () => import('./join.ts') },
  ...operatorVerbEntries,
}
