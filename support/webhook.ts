/**
 * A real HTTP server on port 0 that records every request's JSON body, standing in for a chat
 * or paging tool behind AGENTCOM_ALERT_WEBHOOK_URL. `close()` must be called in afterAll.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ReceivedAlert {
  method: string
  contentType: string | undefined
  body: any
}

export async function startWebhookServer(): Promise<{ url: string; received: ReceivedAlert[]; close(): Promise<void> }> {
  const received: ReceivedAlert[] = []
  const server = createServer((req, res) => {
    let raw = ''
    req.setEncoding('utf8')
    req.on('data', (chunk: string) => (raw += chunk))
    req.on('end', () => {
      let body: unknown
      try {
        body = JSON.parse(raw)
      } catch {
        body = { unparsed: raw }
      }
      received.push({ method: req.method ?? '', contentType: req.headers['content-type'], body })
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`,
    received,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}
