// Preloaded (`deno run --preload`) into a Deno hub by bench/profile-tasks.ts: the same sampling
// profiler as cpu-profile.mjs, through Deno's node:inspector. Deno answers the inspector
// asynchronously, so the profile cannot be taken inside an exit handler: SIGUSR2 stops it and
// writes it to $AGENTCOM_CPU_PROFILE_DIR, before the hub is stopped.
import { Session } from 'node:inspector'

const dir = Deno.env.get('AGENTCOM_CPU_PROFILE_DIR')
if (dir) {
  const session = new Session()
  session.connect()
  session.post('Profiler.enable')
  session.post('Profiler.setSamplingInterval', { interval: 500 })
  session.post('Profiler.start')
  Deno.addSignalListener('SIGUSR2', () => {
    session.post('Profiler.stop', (err, result) => {
      if (!err) Deno.writeTextFileSync(`${dir}/hub-${Deno.pid}.cpuprofile`, JSON.stringify(result.profile))
    })
  })
}
