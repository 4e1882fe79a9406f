/**
 * Sums up a V8 `--trace-opt --trace-deopt` trace (bench/support/jit-trace.mjs): optimizing compiles
 * and deoptimizations per function, with the reasons given, so a function V8 keeps compiling
 * again (or abandons, as it did the derived ServerResponse class on admin_api_rps) stands out.
 */
import { readFileSync } from 'node:fs'

export function jitSummary(file: string, top = 15): string {
  const text = readFileSync(file, 'utf8')
  const count = (re: RegExp) => {
    const out = new Map<string, number>()
    for (const m of text.matchAll(re)) {
      const key = m.slice(1).map((part) => part ?? '(anonymous)').join(' | ')
      out.set(key, (out.get(key) ?? 0) + 1)
    }
    return [...out].sort((a, b) => b[1] - a[1])
  }
  // One function is one SharedFunctionInfo (many share a name: `get`, anonymous ones).
  const fn = String.raw`<JSFunction (?:(\S+) )?\(sfi = (0x[0-9a-f]+)\)>`
  const compiles = count(new RegExp(String.raw`\[completed compiling 0x[0-9a-f]+ ${fn}`, 'g'))
  const aborted = count(new RegExp(String.raw`\[aborted optimizing 0x[0-9a-f]+ ${fn}[^\]]*because: ([^\]]*)\]`, 'g'))
  const deopts = count(new RegExp(String.raw`\[bailout \(kind: ([^,]*), reason: ([^)]*)\): begin\. deoptimizing 0x[0-9a-f]+ ${fn}`, 'g'))
  const took = [...text.matchAll(/\[completed compiling .*? - took ([\d.]+), ([\d.]+), ([\d.]+) ms\]/g)]
    .reduce((sum, m) => sum + Number(m[1]) + Number(m[2]) + Number(m[3]), 0)
  const total = (rows: [string, number][]) => rows.reduce((sum, [, n]) => sum + n, 0)
  const list = (rows: [string, number][]) => rows.slice(0, top).map(([what, n]) => `    ${n} ${what}`).join('\n')
  return `optimizing compiles: ${total(compiles)} of ${compiles.length} functions (${took.toFixed(0)} ms of compile time, wall), most compiled:\n${list(compiles)}\n` +
    `aborted compiles: ${total(aborted)}\n${list(aborted)}\n` +
    `deoptimizations: ${total(deopts)}\n${list(deopts)}\n`
}
