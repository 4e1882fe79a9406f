/**
 * `npm run chaos -- [--minutes <n>] [--seed <s>]`: a real fleet (fleet.ts) under a steady load
 * (load.ts) and faults from a seeded schedule (schedule.ts, injectors.ts) for n minutes (default
 * 2), then the invariants over the whole history (invariants.ts), each printed with its count.
 * Exit 0 only if all hold; a failure prints the seed and the last faults before it.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { History, parseLedger, type Entry } from './history.ts'
import { planFaults } from './schedule.ts'
import { injectFault } from './injectors.ts'
import { HUBS, startFleet } from './fleet.ts'
import { startLoad } from './load.ts'
import { checkAll, RECONNECT_WITHIN_MS } from './invariants.ts'
import { seededRandom } from './prng.ts'

const SIDECARS = 6
const SETTLE_MS = 120_000
const FINAL = new Set(['completed', 'failed', 'cancelled'])

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '2' }, seed: { type: 'string' } } })
const minutes = Number(values.minutes)
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed)
if (!(minutes > 0) || !Number.isInteger(seed)) {
  process.stderr.write('usage: npm run chaos -- [--minutes <n>] [--seed <integer>]\n')
  process.exit(2)
}
const say = (line: string) => process.stdout.write(`[chaos] ${line}\n`)
say(`seed ${seed}, ${minutes} min, ${SIDECARS} sidecars, hubs ${HUBS.join(' and ')}`)

const history = new History()
const fleet = await startFleet({ sidecars: SIDECARS, history })
// Kept for a look afterwards (the fleet's dir is deleted): the history and ledger, the logs, the tables.
const kept = join(tmpdir(), `agentcom-chaos-${seed}-${Date.now()}`)
await mkdir(kept, { recursive: true })
let exitCode = 1
try {
  const runMs = minutes * 60_000
  const plan = planFaults(seed, runMs, { sidecars: fleet.sidecars, hubs: [...HUBS] })
  say(`fleet up in ${Math.round(history.now() / 1000)} s; ${plan.length} faults planned`)
  const startedAt = history.now()
  const load = startLoad(fleet, history, seededRandom(seed + 1))
  for (const fault of plan) {
    const wait = startedAt + fault.at - history.now()
    if (wait > 0) await fleet.sleep(wait)
    say(`${fault.kind} ${fault.target}${fault.durationMs ? ` for ${fault.durationMs} ms` : ''}`)
    await injectFault(fault, fleet, history)
  }
  const left = startedAt + runMs - history.now()
  if (left > 0) await fleet.sleep(left)
  await load.stopAsking()
  say(`load stopped: ${load.accepted.size} tasks accepted; settling`)
  await settle(load.accepted)
  await load.stopLooking()
  const ledgerText = await readFile(fleet.ledgerFile, 'utf8')
  const ledger = parseLedger(ledgerText).map((l) => ({ ...l, t: l.t - history.epoch(0) }))
  const kills = (id: string) => history.entries.filter((e) => e.type === 'fault' && e.kind === 'kill_sidecar' && e.target === id).length
  const commanded = (id: string) => history.entries.filter((e) => e.type === 'rollout_created' && e.agent_ids.includes(id)).length
  const healing = await fleet.hub()?.api('GET', '/api/admin/healing').catch(() => null)
  const healed = countBy(((healing?.body?.actions ?? []) as { agent_id: string; action: string }[]).filter((a) => a.action === 'restart').map((a) => a.agent_id))
  for (const s of await fleet.sidecarRestarts()) {
    const explained = kills(s.agent_id) + commanded(s.agent_id) + (healed[s.agent_id] ?? 0)
    const uncertain = history.entries.filter((e) => e.type === 'rollout_uncertain' && e.agent_ids.includes(s.agent_id)).length
    history.add({ t: history.now(), type: 'sidecar_restarts', agent_id: s.agent_id, restarts: s.restarts, explained, uncertain })
  }
  const verdicts = checkAll(history.entries, ledger)
  const faults = history.entries.filter((e) => e.type === 'fault')
  say(`faults: ${faults.length} (${Object.entries(countBy(faults.map((f) => f.kind))).map(([k, n]) => `${k} ${n}`).join(', ')})`)
  say(`tasks accepted ${load.accepted.size}, runs ${ledger.filter((l) => l.event === 'start').length}, rollouts ${load.rollouts.size}`)
  const resumed = history.entries.filter((e) => e.type === 'quarantine_resumed').map((e) => e.type === 'quarantine_resumed' ? e.agent_id : '')
  say(`quarantined by healing (crash loops) and resumed: ${resumed.length}${resumed.length ? ` (${resumed.join(', ')})` : ''}`)
  for (const v of verdicts) {
    say(`${v.ok ? 'PASS' : 'FAIL'} ${v.name}: ${v.count}${v.ok ? '' : ` (${v.failures.length} broke it)`}`)
    for (const failure of v.failures.slice(0, 5)) say(`     ${failure}`)
  }
  exitCode = verdicts.every((v) => v.ok) ? 0 : 1
  await writeFile(join(kept, 'history.json'), JSON.stringify({ seed, minutes, history: history.entries, ledger }))
  if (exitCode !== 0) {
    say(`seed ${seed} failed; replay with: npm run chaos -- --minutes ${minutes} --seed ${seed}`)
    const firstFailure = Math.min(...verdicts.map((v) => v.failedAt ?? Infinity))
    say(`first failure at ${firstFailure} ms; the last faults before it:`)
    for (const f of faults.filter((f) => f.t <= firstFailure).slice(-5)) say(`     ${JSON.stringify(f)}`)
  }
} catch (err) {
  say(`run aborted: ${err instanceof Error ? err.stack : String(err)}`)
  say(`seed ${seed}; last faults: ${JSON.stringify(history.entries.filter((e) => e.type === 'fault').slice(-5))}`)
} finally {
  await fleet.keep(kept).catch((err) => say(`could not keep the logs: ${String(err)}`))
  say(`history, ledger, logs and tables: ${kept}`)
  await fleet.stop()
}
process.exit(exitCode)

/** Waits (bounded) for every accepted task to be final and every agent connected, recording what it saw. */
async function settle(accepted: Set<string>): Promise<void> {
  const deadline = history.now() + SETTLE_MS
  const open = new Set(accepted)
  while (open.size > 0 && history.now() < deadline) {
    for (const id of [...open]) {
      const res = await fleet.hub()?.api('GET', `/api/admin/tasks/${id}`).catch(() => null)
      if (res?.status === 200 && FINAL.has(res.body.status)) {
        history.add({ t: history.now(), type: 'task_final', task_id: id, status: res.body.status })
        open.delete(id)
      }
    }
    if (open.size > 0) await fleet.sleep(1000)
  }
  for (const id of open) {
    const res = await fleet.hub()?.api('GET', `/api/admin/tasks/${id}`).catch(() => null)
    history.add({ t: history.now(), type: 'task_final', task_id: id, status: String(res?.body?.status ?? 'unknown') })
  }
  const lastFault = Math.max(0, ...history.entries.map((e) => (e.type === 'fault' ? e.until : 0)))
  while (history.now() < lastFault + RECONNECT_WITHIN_MS && !allConnected(history.entries)) await fleet.sleep(1000)
}

function allConnected(entries: Entry[]): boolean {
  const last = entries.findLast((e) => e.type === 'agents_sample')
  return last?.type === 'agents_sample' && last.all.every((id) => last.connected.includes(id))
}

function countBy(items: string[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const item of items) counts[item] = (counts[item] ?? 0) + 1
  return counts
}
