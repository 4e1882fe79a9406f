/** Node's file access for task output files (hub/tasks/file-output.ts). */
import { mkdir, readdir, rm } from 'node:fs/promises'
import type { OutputFiles } from '../tasks/file-output.ts'
import { nodeStateFiles } from './platform.ts'

export const nodeOutputFiles: OutputFiles = {
  ...nodeStateFiles,
  mkdirp: async (dir) => {
    await mkdir(dir, { recursive: true, mode: 0o700 })
  },
  list: (dir) => readdir(dir).catch(() => []),
  remove: (path) => rm(path, { force: true }),
}
