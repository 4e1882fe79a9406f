/**
 * The hub's signing secret: AGENTCOM_SECRET, or a file generated once in the data dir. Its
 * length is checked here alone, wherever it comes from.
 */
import { ConfigError } from '../../shared/settings.ts'
import { HUB_SETTINGS, MIN_SECRET_LENGTH } from '../config/settings.ts'

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
  /** The file's permission bits (e.g. 0o600), null where the platform has none. */
  mode?(path: string): Promise<number | null>
}

/** Permission bits that let anyone but the owner at the secret file. */
const NOT_OWNER_BITS = 0o077

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
  if (existing) return fileSecret(existing, path, await files.mode?.(path) ?? null)
  await files.mkdirp(config.dataDir)
  const bytes = crypto.getRandomValues(new Uint8Array(32))
  const fresh = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
  if (await files.createExclusive(path, `${fresh}\n`)) return fresh
  // Another process created it first: use theirs.
  return fileSecret((await files.read(path))?.trim() ?? '', path, await files.mode?.(path) ?? null)
}

/**
 * The file's secret, refused (a ConfigError, so exit 78) when group or others may read it:
 * whoever can read it mints admin tokens. The hub never loosens or fixes the mode itself.
 */
function fileSecret(secret: string, path: string, mode: number | null): string {
  if (mode !== null && (mode & NOT_OWNER_BITS) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0')
    throw new ConfigError(`${path} is open to group or others (mode ${octal}): make it readable by its owner only (chmod 600 ${path})`)
  }
  assertSecret(secret, `the secret in ${path}`)
  return secret
}
