/**
 * Task control in cluster mode: the shared behaviour suite on two hubs and one database, tasks
 * made and cancelled through hub A, agents on hub B, so every rule also crosses hubs.
 */
import { agentOn, clusterAdminToken, startTwoClusterHubs } from '../../support/cluster-hubs.ts'
import { describeTaskControl, followOutput } from '../../support/task-control-suite.ts'

describeTaskControl('cluster', async () => {
  const { a, b, stop } = await startTwoClusterHubs(['tc-a', 'tc-b'])
  const token = await clusterAdminToken()
  return {
    api: (method, path, body) => a.api(method, path, body),
    agent: (agentId, extra = {}) => agentOn(b, agentId, extra),
    // From hub A, while the agents are on hub B.
    follow: (taskId) => followOutput(`${a.running.url}/api/admin/tasks/${taskId}/output?follow=1`, token),
    async reset() {
      await a.runtime.sql`TRUNCATE tasks, task_output`
    },
    stop,
  }
})
