/**
 * One of the dashboard's files, answered from memory with a strong ETag (the SHA-256 of its
 * text, computed once, with Web Crypto so the core stays portable). Browsers revalidate on every
 * load (`cache-control: no-cache`) and get 304 with no body while the hub runs the same version.
 *
 * Why an ETag on a fixed URL rather than a content-hashed URL cached for a year: in cluster mode
 * several hubs answer one address, and during a rolling upgrade the page could come from one hub
 * and its script from another; a hashed URL the other hub does not know would fail there, a fixed
 * URL always gets that hub's script.
 */
import type { Context } from 'hono'

async function strongTag(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))
  const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('')
  return `"${hex.slice(0, 32)}"`
}

/** Whether an If-None-Match header names this tag (or `*`); weak tags compare by their value. */
export function isNotModified(ifNoneMatch: string | undefined, tag: string): boolean {
  if (!ifNoneMatch) return false
  if (ifNoneMatch.trim() === '*') return true
  return ifNoneMatch.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === tag)
}

/** A GET handler answering `body` with `headers` (content-type included), or 304. */
export function staticAsset(body: string, headers: Readonly<Record<string, string>>) {
  let tag: Promise<string> | null = null
  return async (c: Context): Promise<Response> => {
    tag ??= strongTag(body)
    const etag = await tag
    if (isNotModified(c.req.header('if-none-match'), etag)) {
      const { 'content-type': _type, ...rest } = headers
      return new Response(null, { status: 304, headers: { ...rest, etag } })
    }
    return new Response(body, { headers: { ...headers, etag } })
  }
}
