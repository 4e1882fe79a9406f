/**
 * What a task process sees (sidecar/task-context.ts and the executor): the allowlisted
 * environment, never a credential or a pm2 variable even when listed, and its own directory.
 */
import { mkdtemp, realpath, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { PM2_INJECTED, buildTaskEnv, isForbidden, lookupUser, prepareTaskDir, refusedTaskEnvNames } from '../../sidecar/task-context.ts'
import { execTask } from '../../sidecar/executor.ts'

const SIDECAR_ENV = {
  PATH: '/usr/bin:/bin', HOME: '/home/op', USER: 'op', LOGNAME: 'op', SHELL: '/bin/bash', LANG: 'C.UTF-8',
  LANGUAGE: 'en', TZ: 'UTC', TMPDIR: '/tmp', TERM: 'xterm', LC_ALL: 'C.UTF-8', LC_TIME: 'C',
  AGENTCOM_SECRET: 'the-hub-secret', AGENTCOM_TOKEN: 'the-token', AGENTCOM_TOKEN_FILE: '/run/token',
  AGENTCOM_AGENT_ID: 'w-1', AGENTCOM_HUB_URL: 'ws://hub/ws', HTTP_PROXY: 'http://proxy:3128', DATABASE_URL: 'postgres://x',
  PM2_HOME: '/root/.pm2', PM2_USAGE: 'CLI', pm_id: '3', name: 'agentcom-w-1', NODE_APP_INSTANCE: '0',
  pm_exec_path: '/x', unique_id: 'u', status: 'online', axm_options: '{}', km_link: 'false',
  'agentcom-w-1': '{"AGENTCOM_TOKEN":"the-token"}', PM2_PROCESS_NAME: 'agentcom-w-1',
}

describe('the task environment', () => {
  it('is the allowlist and LC_*, nothing else', () => {
    expect(buildTaskEnv(SIDECAR_ENV, [])).toEqual({
      PATH: '/usr/bin:/bin', HOME: '/home/op', USER: 'op', LOGNAME: 'op', SHELL: '/bin/bash', LANG: 'C.UTF-8',
      LANGUAGE: 'en', TZ: 'UTC', TMPDIR: '/tmp', TERM: 'xterm', LC_ALL: 'C.UTF-8', LC_TIME: 'C',
    })
  })

  it('adds the names of AGENTCOM_TASK_ENV, but never a credential or a pm2 variable', () => {
    const listed = ['HTTP_PROXY', 'AGENTCOM_SECRET', 'AGENTCOM_TOKEN', 'AGENTCOM_TOKEN_FILE', 'PM2_HOME', 'pm_id', 'name',
      'NODE_APP_INSTANCE', 'pm_exec_path', 'unique_id', 'status', 'axm_options', 'km_link', 'agentcom-w-1', 'PM2_PROCESS_NAME', 'UNSET']
    const env = buildTaskEnv(SIDECAR_ENV, listed)
    expect(env.HTTP_PROXY).toBe('http://proxy:3128')
    expect(Object.keys(env).filter((k) => !/^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|TZ|TMPDIR|TERM|LC_.*)$/.test(k))).toEqual(['HTTP_PROXY'])
    expect(JSON.stringify(env)).not.toMatch(/the-hub-secret|the-token|\/run\/token/)
    expect(refusedTaskEnvNames(listed, SIDECAR_ENV)).toEqual(listed.filter((n) => n !== 'HTTP_PROXY' && n !== 'UNSET'))
  })

  it('refuses every variable pm2 injects, by list and by prefix', () => {
    for (const name of [...PM2_INJECTED, 'PM2_ANYTHING', 'pm_whatever', 'axm_new', 'km_new']) expect(isForbidden(name, {})).toBe(true)
    for (const name of ['PATH', 'HTTP_PROXY', 'NAME', 'PM2']) expect(isForbidden(name, {})).toBe(false)
  })

  it('names the task user and gives it the task dir as HOME', () => {
    const env = buildTaskEnv(SIDECAR_ENV, [], { user: { name: 'nobody', uid: 65534, gid: 65534 }, taskDir: '/srv/work/w-1' })
    expect(env).toMatchObject({ USER: 'nobody', LOGNAME: 'nobody', HOME: '/srv/work/w-1' })
  })
})

describe('a task process', () => {
  it('sees only its environment and AGENTCOM_TASK_ID, and runs in the task dir, created if missing', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'agentcom-task-')), 'work', 'w-1')
    await prepareTaskDir(dir, null)
    expect((await stat(dir)).mode & 0o777).toBe(0o700)
    const env = buildTaskEnv({ ...process.env, ...SIDECAR_ENV, PATH: process.env.PATH }, ['AGENTCOM_SECRET'])
    const run = execTask({
      command: `node -e 'process.stdout.write(JSON.stringify({ env: process.env, cwd: process.cwd() }))'`,
      task: { task_id: 't-1', input: null, timeout_ms: 10_000 }, env, cwd: dir,
    })
    const outcome = await run.done
    expect(outcome.kind).toBe('complete')
    const { env: seen, cwd } = (outcome as { result: any }).result
    expect(cwd).toBe(await realpath(dir))
    expect(seen.AGENTCOM_TASK_ID).toBe('t-1')
    expect(JSON.stringify(seen)).not.toMatch(/the-hub-secret|the-token|AGENTCOM_SECRET|PM2_|pm_id/)
  })
})

describe('looking up the task user', () => {
  it('asks `id` through the command runner, and reads an unknown user as none', async () => {
    const calls: string[][] = []
    const answers: Record<string, string> = { '-u': '1001\n', '-g': '1002\n', '-un': 'worker\n' }
    const runner = {
      run: async (file: string, args: readonly string[]) => {
        calls.push([file, ...args])
        return args[1] === 'worker' ? { stdout: answers[args[0]], stderr: '', exitCode: 0 } : { stdout: '', stderr: 'no such user', exitCode: 1 }
      },
    }
    expect(await lookupUser('worker', runner)).toEqual({ name: 'worker', uid: 1001, gid: 1002 })
    expect(calls).toEqual([['id', '-u', 'worker'], ['id', '-g', 'worker'], ['id', '-un', 'worker']])
    expect(await lookupUser('ghost', runner)).toBeNull()
  })
})
