/**
 * A state file the hub must not start without (revocations, join-token uses): starting empty
 * would let revoked tokens in, or used-up join tokens enroll, again. Absent is fine (nothing
 * recorded yet); present but unreadable stops the hub with a ConfigError that says what to do.
 */
import * as v from 'valibot'
import { ConfigError } from '../../shared/settings.ts'
import type { StateFiles } from '../tasks/task-store.ts'

/** The file's validated contents, undefined when it does not exist. */
export async function readRequiredFile<S extends v.GenericSchema>(
  files: Pick<StateFiles, 'read'>, path: string, schema: S, refusal: string,
): Promise<v.InferOutput<S> | undefined> {
  const text = await files.read(path)
  if (text === null) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = undefined
  }
  const result = v.safeParse(schema, parsed)
  if (!result.success) throw new ConfigError(`${path} ${refusal}`)
  return result.output
}
