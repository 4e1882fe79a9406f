/**
 * A hub's address as an operator gives it, `http(s)://host[:port]` or the sidecar's
 * `ws(s)://host[:port]/ws`, as both the HTTP base (for the API) and the WebSocket URL.
 */
export function hubUrls(text: string): { http: string; ws: string } | null {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return null
  }
  const secure = url.protocol === 'https:' || url.protocol === 'wss:'
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol) || url.search || url.hash || url.username) return null
  const path = url.pathname.replace(/\/+$/, '')
  const isWs = url.protocol.startsWith('ws')
  // The WebSocket URL names /ws; an HTTP one is the hub's root.
  if (isWs ? path !== '/ws' : path !== '') return null
  return { http: `${secure ? 'https' : 'http'}://${url.host}`, ws: `${secure ? 'wss' : 'ws'}://${url.host}/ws` }
}
