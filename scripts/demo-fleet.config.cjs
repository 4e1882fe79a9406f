// What `npm start` runs under pm2-runtime: the hub and a demo fleet of sidecars.
// scripts/start.ts sets the environment read here (token files, data dir, port). Each sidecar
// gets the path of its own token file and nothing of the others' nor the hub's secret.
const path = require('node:path')
const { sidecarApp, tsApp, root } = require('../sidecar/pm2-app.cjs')

const env = process.env
const ids = (env.AGENTCOM_DEMO_AGENTS || 'demo-1,demo-2').split(',')
const taskCommand = `"${process.execPath}" "${path.join(root, 'sidecar/demo-task.mjs')}"`

module.exports = {
  apps: [
    // The hub keeps AGENTCOM_SECRET (it signs with it) but not the demo sidecars' token paths.
    { ...tsApp('agentcom-hub', 'scripts/hub-under-pm2.mjs'), kill_timeout: 5000, filter_env: ['AGENTCOM_DEMO_', 'AGENTCOM_TOKEN'] },
    ...ids.map((agentId, i) =>
      sidecarApp({
        agentId,
        filterEnv: ['AGENTCOM_TOKEN', 'AGENTCOM_DEMO_'],
        env: {
          AGENTCOM_TOKEN_FILE: env[`AGENTCOM_DEMO_TOKEN_FILE_${i}`] || '',
          AGENTCOM_HUB_URL: `ws://${env.HOST || '127.0.0.1'}:${env.PORT || 8787}/ws`,
          AGENTCOM_TASK_COMMAND: taskCommand,
          // Started as root: the demo tasks run as an unprivileged user, in a folder of their own
          // outside the data dir, where they can read neither the hub's secret nor a token.
          ...(env.AGENTCOM_DEMO_TASK_USER
            ? { AGENTCOM_TASK_USER: env.AGENTCOM_DEMO_TASK_USER, AGENTCOM_TASK_DIR: path.join(env.AGENTCOM_DEMO_TASK_ROOT, agentId) }
            : {}),
        },
      }),
    ),
  ],
}
