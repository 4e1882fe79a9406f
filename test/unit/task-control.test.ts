/** Task control on a single hub (the file store's board): the shared behaviour suite. */
import { signAdminToken, signAgentToken } from '../../hub/auth/auth.ts'
import { startNodeHub } from '../../hub/node/serve.ts'
import { silentLogger } from '../../shared/log.ts'
import { describeTaskControl, followOutput } from '../../support/task-control-suite.ts'
import { identifiedSocket } from '../../support/ws-client.ts'

const SECRET = 's'.repeat(40)

describeTaskControl('single hub', async () => {
  const token = await signAdminToken(SECRET)
  let running = await startNodeHub({ port: 0, host: '127.0.0.1', secret: SECRET, log: silentLogger, taskGraceMs: 1000 })
  return {
    async api(method, path, body) {
      const res = await fetch(`${running.url}/api/admin${path}`, {
        method, headers: { authorization: `Bearer ${token}` }, body: body === undefined ? undefined : JSON.stringify(body),
      })
      return { status: res.status, body: await res.json() }
    },
    async agent(agentId, extra = {}) {
      return identifiedSocket(`${running.url.replace('http', 'ws')}/ws`, agentId, await signAgentToken(SECRET, agentId), extra)
    },
    async reset() {
      await running.close()
      running = await startNodeHub({ port: 0, host: '127.0.0.1', secret: SECRET, log: silentLogger, taskGraceMs: 1000 })
    },
    follow: (taskId) => followOutput(`${running.url}/api/admin/tasks/${taskId}/output?follow=1`, token),
    stop: () => running.close(),
  }
})
