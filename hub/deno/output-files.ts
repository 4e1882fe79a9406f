/** Deno's file access for task output files (hub/tasks/file-output.ts). */
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
  async remove(path) {
    try {
      await Deno.remove(path)
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err
    }
  },
}
