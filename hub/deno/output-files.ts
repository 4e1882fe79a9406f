/** Deno's file access for task output files (hub/tasks/file-output.ts). */
import { existsSync } from 'node:fs'
import type { OutputFiles } from '../tasks/file-output.ts'
import { denoStateFiles } from './platform.ts'

export const denoOutputFiles: OutputFiles = {
  ...denoStateFiles,
  mkdirp: (dir) => Deno.mkdir(dir, { recursive: true, mode: 0o700 }),
  async list(dir) {
    const names: string[] = []
    try {
      for await (const entry of Deno.readDir(dir)) names.push(entry.name)
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err
    }
    return names
  },
  // Past its 10 000th finished task a hub forgets one per task finished, and removes its file,
  // which most tasks never had. Deno's remove of a missing file builds a NotFound error (with a
  // trip to the thread pool, 30 to 60 µs): that was the whole rise in a Deno hub's CPU per task
  // from N = 5 000 to 20 000 (docs/benchmarks.md). `existsSync` asks without an error (3 µs).
  async remove(path) {
    if (!existsSync(path)) return
    try {
      await Deno.remove(path)
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err
    }
  },
}
