/**
 * A port the OS just had free on 127.0.0.1, for programs that cannot listen on port 0 and say
 * which (the start scripts take PORT). Another process could take it in between: rare, and
 * the test then fails to start, loudly.
 */
import { createServer } from 'node:net'

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })
}
