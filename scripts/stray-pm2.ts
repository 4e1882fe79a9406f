/**
 * After pm2-runtime exits (Ctrl-C of `npm start` or `npm run start:cluster`), a `pm2 jlist` a
 * sidecar had started just before it died may find no daemon and launch one, detached, and both
 * then run forever. Those two kinds of process carrying this run's PM2_HOME in their environment
 * (a pm2 daemon, a `pm2 jlist`) are looked for a few seconds and ended; any other, such as a
 * `pm2 logs` the user runs on the same PM2_HOME, is left alone. Linux, through /proc; elsewhere
 * there is nothing to read.
 */
import { readdir, readFile } from 'node:fs/promises'

const WATCH_MS = 3000
const STRAY = /God Daemon|\/pm2 jlist\b/
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
      if (!STRAY.test(cmd)) continue
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
