// What `npm run start:cluster` runs under pm2-runtime: two hubs sharing one PostgreSQL (hub-a
// on Node, hub-b on Deno) and a demo fleet whose sidecars know both hubs.
// scripts/start-cluster.ts sets the environment read here (database URL, ports, token files).
// Each sidecar gets the path of its own token file, and neither the hub's secret nor the
// database URL (it holds the database password).
const path = require('node:path')
const { sidecarApp, tsApp, root } = require('../sidecar/pm2-app.cjs')

const env = process.env
const ids = (env.AGENTCOM_DEMO_AGENTS || 'demo-1,demo-2').split(',')
const host = env.HOST || '127.0.0.1'
const ports = [Number(env.AGENTCOM_CLUSTER_PORT_A), Number(env.AGENTCOM_CLUSTER_PORT_B)]
const urls = ports.map((port) => `ws://${host}:${port}/ws`)
const taskCommand = `"${process.execPath}" "${path.join(root, 'sidecar/demo-task.mjs')}"`
const deno = path.join(root, 'node_modules', '.bin', 'deno')

module.exports = {
  apps: [
    {
      ...tsApp('agentcom-hub-a', 'scripts/hub-under-pm2.mjs'), kill_timeout: 5000, filter_env: ['AGENTCOM_DEMO_', 'AGENTCOM_TOKEN'],
      env: { PORT: String(ports[0]), AGENTCOM_HUB_ID: 'hub-a' },
    },
    {
      name: 'agentcom-hub-b',
      script: deno,
      args: ['run', '--config', path.join(root, 'deno.json'), '--allow-net', '--allow-env', '--allow-read', '--allow-write', path.join(root, 'hub/deno.ts')],
      interpreter: 'none',
      cwd: root,
      exec_mode: 'fork',
      autorestart: true,
      stop_exit_codes: [78],
      kill_timeout: 5000,
      filter_env: ['AGENTCOM_DEMO_', 'AGENTCOM_TOKEN'],
      env: { PORT: String(ports[1]), AGENTCOM_HUB_ID: 'hub-b' },
    },
    // Each sidecar starts on a different hub and fails over to the other.
    ...ids.map((agentId, i) =>
      sidecarApp({
        agentId,
        filterEnv: ['AGENTCOM_TOKEN', 'AGENTCOM_DEMO_', 'AGENTCOM_DATABASE_URL'],
        env: {
          AGENTCOM_TOKEN_FILE: env[`AGENTCOM_DEMO_TOKEN_FILE_${i}`] || '',
          AGENTCOM_HUB_URL: (i % 2 ? [urls[1], urls[0]] : urls).join(','),
          AGENTCOM_TASK_COMMAND: taskCommand,
        },
      }),
    ),
  ],
}
