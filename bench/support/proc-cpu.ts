/**
 * CPU time of processes and their threads, read from /proc (Linux): what the bench's profiling
 * scripts compare between a hub and its baseline, where wall time moves with the machine.
 */
import { readFileSync, readdirSync } from 'node:fs'

export interface ProcStat { name: string; ppid: number; userMs: number; systemMs: number }

/** A /proc stat file's command name, parent pid, and user and system CPU in ms (fields 2, 4, 14 and 15; 100 Hz ticks). */
export function procStat(path: string): ProcStat {
  const text = readFileSync(path, 'utf8')
  // The command name is in parentheses and may hold spaces: the fields are what follows it.
  const fields = text.replace(/^.*\) /, '').split(' ')
  const name = /\((.*)\)/.exec(text)?.[1] ?? ''
  return { name, ppid: Number(fields[1]), userMs: Number(fields[11]) * 10, systemMs: Number(fields[12]) * 10 }
}

/** User + system CPU of a process (or of one thread, given `/proc/<pid>/task/<tid>/stat`), in ms. */
export function statCpuMs(path: string): number {
  const { userMs, systemMs } = procStat(path)
  return userMs + systemMs
}

export function processCpuMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/stat`)
}

/**
 * CPU ms of a process's threads summed by thread name, user and system apart (`main user`,
 * `node sys`, ...): the main thread apart, since Node 20 names every thread "node". Threads that
 * ended are not counted.
 */
export function cpuMsByThreadName(pid: number): Map<string, number> {
  const out = new Map<string, number>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = procStat(`/proc/${pid}/task/${tid}/stat`)
      const name = tid === String(pid) ? 'main' : stat.name || tid
      const { userMs, systemMs } = stat
      out.set(`${name} user`, (out.get(`${name} user`) ?? 0) + userMs)
      out.set(`${name} sys`, (out.get(`${name} sys`) ?? 0) + systemMs)
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out
}
