/**
 * After pm2-runtime exits (Ctrl-C of `npm start` or `npm run start:cluster`), a `pm2 jlist` a
 * sidecar had started just before it died may find no daemon and launch one, detached, and both
 * then run forever. Every process that carries this run's PM2_HOME in its environment is ours:
 * for a few seconds they are looked for and ended (Linux, through /proc; elsewhere nothing to read).
 */
import { readdir, readFile } from 'node:fs/promises'

const WATCH_MS = 3000
const POLL_MS = 200

export async function stopStrayPm2(pm2Home: string): Promise<void> {
  const needle = `PM2_HOME=${pm2Home}\0`
  const deadline = Date.now() + WATCH_MS
  while (Date.now() < deadline) {
    const entries = await readdir('/proc').catch(() => [] as string[])
    for (const entry of entries) {
      const pid = Number(entry)
      if (!Number.isInteger(pid) || pid === process.pid) continue
      const env = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '')
      if (!env.includes(needle)) continue
      const cmd = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ').trim()
      process.stderr.write(`agentcom: stopping ${cmd.slice(0, 80)} (pid ${pid}), left behind by pm2\n`)
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // Gone meanwhile: nothing to stop.
      }
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
}
