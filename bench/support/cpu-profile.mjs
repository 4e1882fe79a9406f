// Preloaded (`--import`) into a hub by bench/profile-tasks.ts: Node refuses `--cpu-prof` in
// NODE_OPTIONS, so the same sampling profiler is started here through the inspector and its
// profile written to $AGENTCOM_CPU_PROFILE_DIR when the process exits. The inspector session
// answers on the calling thread, so stopping it inside the exit handler works. SIGUSR2 (sent as
// the timed run starts) starts it over, so the profile holds the timed run only, not the start-up
// (module loading) and the warm-up.
import { Session } from 'node:inspector'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

const dir = process.env.AGENTCOM_CPU_PROFILE_DIR
if (dir) {
  const session = new Session()
  session.connect()
  session.post('Profiler.enable')
  session.post('Profiler.setSamplingInterval', { interval: 500 })
  session.post('Profiler.start')
  process.on('SIGUSR2', () => {
    session.post('Profiler.stop', () => session.post('Profiler.start'))
  })
  process.on('exit', () => {
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(join(dir, `hub-${process.pid}.cpuprofile`), JSON.stringify(result.profile))
    })
  })
}
