/**
 * What a chaos run leaves behind for a look afterwards (the fleet's own dir is deleted): every
 * hub process's log (one file per incarnation, killed ones included), the sidecars' pm2 logs,
 * and the tasks and restarts tables as the database held them at the end.
 */
import { cp, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { connectDatabase } from '../../hub/pg/connect.ts'

export interface HubIncarnation {
  hub_id: string
  logs: string[]
}

export async function keepEvidence(dir: string, o: { hubs: HubIncarnation[]; pm2Home: string; databaseUrl: string }): Promise<void> {
  await mkdir(join(dir, 'hubs'), { recursive: true })
  for (const hub of o.hubs) await writeFile(join(dir, 'hubs', `${hub.hub_id}.log`), hub.logs.join('\n') + '\n')
  await cp(join(o.pm2Home, 'logs'), join(dir, 'sidecars'), { recursive: true }).catch(() => undefined)
  const sql = connectDatabase(o.databaseUrl, { max: 1, connectTimeoutS: 5 })
  try {
    const tasks = await sql`SELECT task_id, status, agent_id, hub_id, attempts, error, created_at, assigned_at, updated_at FROM tasks ORDER BY seq`
    await writeFile(join(dir, 'tasks.json'), JSON.stringify(tasks, null, 1))
    const restarts = await sql`SELECT * FROM restarts ORDER BY requested_at`
    await writeFile(join(dir, 'restarts.json'), JSON.stringify(restarts, null, 1))
  } catch (err) {
    await writeFile(join(dir, 'database-error.txt'), String(err))
  } finally {
    await sql.end({ timeout: 5 })
  }
}
