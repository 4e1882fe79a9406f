/**
 * `node --import tsx bench/profile-summary.ts <file.cpuprofile> [top]`: a CPU profile (Node's or
 * Deno's inspector format) summed up as text: the share of busy samples (idle excluded) spent in
 * each function itself, and in each source file itself and below it, so profiles of two builds
 * can be compared line by line in docs/benchmarks.md.
 */
import { readFileSync } from 'node:fs'

interface Node {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: Node[]
  samples: number[]
  timeDeltas: number[]
}

const [file, topArg = '30'] = process.argv.slice(2)
const top = Number(topArg)
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const parent = new Map<number, number>()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)

const shortUrl = (url: string) => url.replace(/^.*\/node_modules\//, 'npm:').replace(/^.*\/wt\/[^/]+\//, '').replace(/^file:\/\//, '')
const frameName = (n: Node) => `${n.callFrame.functionName || '(anonymous)'} ${shortUrl(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`

const selfMs = new Map<string, number>()
const fileMs = new Map<string, number>()
let idle = 0
let busy = 0
for (let i = 0; i < profile.samples.length; i++) {
  const ms = (profile.timeDeltas[i] ?? 0) / 1000
  const leaf = byId.get(profile.samples[i])!
  if (leaf.callFrame.functionName === '(idle)') {
    idle += ms
    continue
  }
  busy += ms
  selfMs.set(frameName(leaf), (selfMs.get(frameName(leaf)) ?? 0) + ms)
  // Each file once per sample, however deep it recurs.
  const files = new Set<string>()
  for (let at: number | undefined = leaf.id; at !== undefined; at = parent.get(at)) {
    const url = byId.get(at)!.callFrame.url
    if (url) files.add(shortUrl(url))
  }
  for (const f of files) fileMs.set(f, (fileMs.get(f) ?? 0) + ms)
}

const pct = (ms: number) => `${((100 * ms) / busy).toFixed(1).padStart(5)} %`
const list = (title: string, m: Map<string, number>) => {
  process.stdout.write(`${title}\n`)
  for (const [k, ms] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) process.stdout.write(`${pct(ms)}  ${ms.toFixed(0).padStart(6)} ms  ${k}\n`)
}
process.stdout.write(`busy ${busy.toFixed(0)} ms, idle ${idle.toFixed(0)} ms\n`)
list('self time by function:', selfMs)
list('time in each file and below it:', fileMs)
