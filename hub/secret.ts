/**
 * The hub's signing secret: AGENTCOM_SECRET, or a file generated once in the data dir. Its
 * length is checked here alone, wherever it comes from.
 */
import { ConfigError } from '../shared/settings.ts'
import { HUB_SETTINGS, MIN_SECRET_LENGTH } from './settings.ts'

/** Refuses a secret shorter than MIN_SECRET_LENGTH; `source` names where it came from. */
export function assertSecret(secret: string, source: string = HUB_SETTINGS.secret.env): void {
  if (secret.length < MIN_SECRET_LENGTH) throw new ConfigError(`${source} must be at least ${MIN_SECRET_LENGTH} characters`)
}

/** What reading and creating the secret file takes; each runtime's platform module supplies its own. */
export interface SecretFiles {
  read(path: string): Promise<string | null>
  /** Creates the file with mode 0600 only if it does not exist; false if it did. */
  createExclusive(path: string, text: string): Promise<boolean>
  mkdirp(path: string): Promise<void>
}

/** The name of the shared secret file inside the data dir. */
export const SECRET_FILE = 'hub-secret'

/**
 * AGENTCOM_SECRET if set, else the data dir's hub-secret, generated once. The hub and the
 * token command both call this, so they agree without any setup.
 */
export async function ensureSecret(config: { secret: string | null; dataDir: string }, files: SecretFiles): Promise<string> {
  if (config.secret) return config.secret
  const path = `${config.dataDir}/${SECRET_FILE}`
  const existing = (await files.read(path))?.trim()
  if (existing) return fileSecret(existing, path)
  await files.mkdirp(config.dataDir)
  const bytes = crypto.getRandomValues(new Uint8Array(32))
  const fresh = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
  if (await files.createExclusive(path, `${fresh}\n`)) return fresh
  // Another process created it first: use theirs.
  return fileSecret((await files.read(path))?.trim() ?? '', path)
}

function fileSecret(secret: string, path: string): string {
  assertSecret(secret, `the secret in ${path}`)
  return secret
}
