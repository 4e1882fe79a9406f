// The pm2 app definition of one sidecar, shared by sidecar/ecosystem.config.cjs and the
// demo fleet that `npm start` runs.
const path = require('node:path')

const root = path.join(__dirname, '..')

/** A TypeScript entry of this repository as a pm2 app: fork mode, `node --import tsx`. */
function tsApp(name, script) {
  return {
    name,
    script: path.join(root, script),
    cwd: root,
    exec_mode: 'fork',
    interpreter: 'node',
    node_args: '--import tsx',
    autorestart: true,
    // 78 is a configuration error: restarting would only fail again.
    stop_exit_codes: [78],
  }
}

/**
 * @param {{ agentId: string, name?: string, env?: Record<string, string>, filterEnv?: string[] }} opts
 * `filterEnv`: variables (by substring, pm2's `filter_env`) not copied from the environment pm2
 * was started with. The hub's secret never is, even if the operator exported it.
 */
function sidecarApp({ agentId, name = `agentcom-${agentId}`, env = {}, filterEnv = [] }) {
  return {
    ...tsApp(name, 'sidecar/main.ts'),
    filter_env: ['AGENTCOM_SECRET', ...filterEnv],
    // pm2 sends SIGINT, then SIGKILL after this: long enough for a task to finish within
    // the sidecar's own shutdown grace (AGENTCOM_SHUTDOWN_GRACE_MS, 25 s).
    kill_timeout: 30000,
    // pm2's SIGINT goes to the sidecar alone, not to its task's processes, so a running task
    // can finish; the sidecar stops the task's process group itself when its grace runs out.
    treekill: false,
    // pm2 waits 100 ms before starting it again, growing ×1.5 for exits less than 30 s apart,
    // so a crash loop backs off instead of spinning (a commanded restart pays the first 100 ms).
    exp_backoff_restart_delay: 100,
    env: { ...env, AGENTCOM_AGENT_ID: agentId, PM2_PROCESS_NAME: name },
  }
}

module.exports = { sidecarApp, tsApp, root }
