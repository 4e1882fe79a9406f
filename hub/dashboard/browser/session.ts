/**
 * The session: the admin token (in sessionStorage only, sent as a bearer header, never a
 * cookie), which session is current, and every admin request. An answer that arrives after its
 * session ended is dropped, so a sign-out is never undone by a late answer.
 */
import { hideBanner, showBanner, toast } from './ui.ts'

const TOKEN_KEY = 'agentcom.admin_token'
export const REFUSED = 'The hub refused this token (expired, revoked or wrong). Sign in again.'

let session = 0
let onRefused: (message: string) => void = () => {}

/** Thrown for a refused token or an answer that outlived its session: already dealt with. */
export class Unauthorized extends Error {}

/** An answer, its body typed as the route's success answer: check the status before reading it. */
export interface Answer<T> { status: number; body: T }

export const token = (): string => sessionStorage.getItem(TOKEN_KEY) || ''
export const saveToken = (value: string): void => sessionStorage.setItem(TOKEN_KEY, value)
export const forgetToken = (): void => sessionStorage.removeItem(TOKEN_KEY)

/** The current session's number; a new one begins at sign-in and at sign-out. */
export const currentSession = (): number => session
export function nextSession(): number {
  return ++session
}

/** What a 401 does: sign out with this message (set once by main.ts). */
export function whenRefused(handler: (message: string) => void): void {
  onRefused = handler
}

/** One admin request. 401 ends the session; a network failure shows the banner. */
export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<Answer<T>> {
  const mine = session
  const headers: Record<string, string> = { authorization: `Bearer ${token()}`, accept: 'application/json' }
  if (body !== undefined) headers['content-type'] = 'application/json'
  let res: Response
  try {
    res = await fetch(path, {
      method, headers, credentials: 'omit', cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  } catch (err) {
    if (mine === session) showBanner('Cannot reach the hub. Check that it is running; retrying.')
    throw err
  }
  if (mine !== session) throw new Unauthorized()
  if (res.status === 401) { onRefused(REFUSED); throw new Unauthorized() }
  hideBanner()
  const json: unknown = await res.json().catch(() => null)
  return { status: res.status, body: json as T }
}

/** The catch of an action: a refusal is already shown, anything else gets a toast. */
export function ignoreUnauthorized(err: unknown): void {
  if (!(err instanceof Unauthorized)) toast(`Request failed: ${err instanceof Error && err.message ? err.message : String(err)}`, true)
}

/** An error answer, in a line: its code and its detail or first issue. */
export function errorText(res: Answer<unknown>): string {
  const b = (res.body || {}) as { error?: string; detail?: string; issues?: { message?: string }[] }
  let text = b.error || `HTTP ${res.status}`
  if (b.detail) text += `: ${b.detail}`
  else if (b.issues && b.issues[0] && b.issues[0].message) text += `: ${b.issues[0].message}`
  return text
}
