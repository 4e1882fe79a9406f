// One AgentCom sidecar under pm2:
//   AGENTCOM_AGENT_ID=worker-1 AGENTCOM_TOKEN=... pm2 start sidecar/ecosystem.config.cjs
// The other settings come from the environment pm2 is started with (README, "Configuration").
const { sidecarApp } = require('./pm2-app.cjs')

const agentId = process.env.AGENTCOM_AGENT_ID || 'agent-1'

module.exports = {
  apps: [sidecarApp({ agentId, name: process.env.PM2_PROCESS_NAME || undefined })],
}
