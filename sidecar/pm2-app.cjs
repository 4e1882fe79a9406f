// The pm2 app definition of one sidecar, shared by sidecar/ecosystem.config.cjs and the
// demo fleet that `npm start` runs.
const { createHash } = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const BUILD_COMMAND = '`npm install` (or `npm run build`)'

/**
 * The sidecar as pm2 runs it: plain JavaScript built by scripts/build-sidecar.ts, so no start
 * pays for tsx. Throws, and pm2 starts nothing, when the build is missing or older than any
 * source it was built from: pm2 must not run code other than the sources.
 */
function builtSidecar() {
  const script = path.join(root, 'dist/sidecar.js')
  let inputs
  try {
    inputs = JSON.parse(fs.readFileSync(path.join(root, 'dist/sidecar.inputs.json'), 'utf8'))
    fs.accessSync(script)
  } catch {
    throw new Error(`agentcom: dist/sidecar.js is not built; run ${BUILD_COMMAND} in ${root}`)
  }
  for (const [file, hash] of Object.entries(inputs)) {
    let now = null
    try {
      now = createHash('sha256').update(fs.readFileSync(path.join(root, file))).digest('hex')
    } catch {
      // A source that is gone: the build is stale all the same.
    }
    if (now !== hash) throw new Error(`agentcom: dist/sidecar.js is older than ${file}; run ${BUILD_COMMAND} in ${root}`)
  }
  return script
}

/** A Node process of this repository as a pm2 app: fork mode, restarted unless misconfigured. */
function nodeApp(name, script, nodeArgs) {
  return {
    name,
    script,
    cwd: root,
    exec_mode: 'fork',
    interpreter: 'node',
    node_args: nodeArgs,
    autorestart: true,
    // 78 is a configuration error: restarting would only fail again.
    stop_exit_codes: [78],
  }
}

/** A TypeScript entry of this repository as a pm2 app, run with `node --import tsx`. */
const tsApp = (name, script) => nodeApp(name, path.join(root, script), '--import tsx')

/**
 * @param {{ agentId: string, name?: string, env?: Record<string, string>, filterEnv?: string[] }} opts
 * `filterEnv`: variables (by substring, pm2's `filter_env`) not copied from the environment pm2
 * was started with. The hub's secret never is, even if the operator exported it.
 */
function sidecarApp({ agentId, name = `agentcom-${agentId}`, env = {}, filterEnv = [] }) {
  return {
    ...nodeApp(name, builtSidecar(), []),
    filter_env: ['AGENTCOM_SECRET', ...filterEnv],
    // pm2 sends SIGINT, then SIGKILL after this: long enough for a task to finish within
    // the sidecar's own shutdown grace (AGENTCOM_SHUTDOWN_GRACE_MS, 25 s).
    kill_timeout: 30000,
    // pm2's SIGINT goes to the sidecar alone, not to its task's processes, so a running task
    // can finish; the sidecar stops the task's process group itself when its grace runs out.
    treekill: false,
    // pm2 waits this long before starting it again, growing ×1.5 for exits less than 30 s apart
    // (15 s at most), so a crash loop backs off instead of spinning. 10 ms, not 100: a commanded
    // restart is an exit too and pays the first delay; from 10 ms a crash loop still waits over a
    // second by its 13th exit and 15 s by its 20th, pm2 stops an app after 16 exits within a
    // second of their start (max_restarts), and the hub's healing quarantines (drains) an agent
    // past AGENTCOM_HEAL_CRASH_LIMIT unplanned restarts (docs/benchmarks.md).
    exp_backoff_restart_delay: 10,
    env: { ...env, AGENTCOM_AGENT_ID: agentId, PM2_PROCESS_NAME: name },
  }
}

module.exports = { sidecarApp, tsApp, builtSidecar, root }
