// One AgentCom sidecar under pm2:
//   AGENTCOM_AGENT_ID=worker-1 AGENTCOM_TOKEN_FILE=/etc/agentcom/worker-1.token npx pm2 start sidecar/ecosystem.config.cjs
// The token is minted on the hub's machine (README, "Running a real fleet"); the hub's secret never
// comes here, and pm2 is told not to copy it from the environment if it was exported anyway.
// The other settings come from the environment pm2 is started with (README, "Configuration").
const { sidecarApp } = require('./pm2-app.cjs')

const agentId = process.env.AGENTCOM_AGENT_ID
if (!agentId) {
  // Not a default: two machines started without it would both be agent-1. 78: a configuration
  // error, as the sidecar itself exits with.
  process.stderr.write('agentcom: AGENTCOM_AGENT_ID is required (e.g. AGENTCOM_AGENT_ID=worker-1 pm2 start sidecar/ecosystem.config.cjs)\n')
  process.exit(78)
}

module.exports = {
  apps: [sidecarApp({ agentId, name: process.env.PM2_PROCESS_NAME || undefined })],
}
