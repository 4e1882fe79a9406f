/**
 * What a task process gets from its sidecar: an environment built from an allowlist (never a
 * credential, never one of pm2's variables), a working directory of its own, and, when the
 * sidecar is root and AGENTCOM_TASK_USER is set, another user. CONTRACT.md, "Tokens".
 */
import { execFile } from 'node:child_process'
import { chown, mkdir } from 'node:fs/promises'
import type { CommandRunner } from './exec-runner.ts'
import type { TaskUser } from './config.ts'

/** Passed to every task when the sidecar has them. */
export const TASK_ENV_ALLOWLIST = ['PATH', 'HOME', 'USER', 'LOGNAME', 'SHELL', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR', 'TERM'] as const

/** Never passed, even when listed in AGENTCOM_TASK_ENV: the sidecar's credentials. */
const CREDENTIALS = ['AGENTCOM_SECRET', 'AGENTCOM_TOKEN', 'AGENTCOM_TOKEN_FILE']

/**
 * What pm2 7 puts into a managed process's environment besides `PM2_*` (read from a real pm2
 * 7.0 fork and cluster app, and pm2's app schema): the app's options and its runtime state.
 * `pm_*`, `axm_*` and `km_*` names are refused by prefix as well.
 */
export const PM2_INJECTED = [
  'pm_id', 'name', 'namespace', 'NODE_APP_INSTANCE', 'instance_var', 'unique_id', 'status', 'restart_time',
  'unstable_restarts', 'created_at', 'exit_code', 'prev_restart_delay', 'version', 'versioning', 'node_version',
  'vizion', 'vizion_running', 'km_link', 'pmx', 'automation', 'treekill', 'username', 'windowsHide',
  'kill_retry_time', 'kill_timeout', 'exec_mode', 'exec_interpreter', 'interpreter', 'interpreter_args',
  'instances', 'node_args', 'args', 'script', 'cwd', 'env', 'filter_env', 'merge_logs', 'autostart',
  'autorestart', 'watch', 'ignore_watch', 'watch_delay', 'watch_options', 'stop_exit_codes',
  'exp_backoff_restart_delay', 'restart_delay', 'max_restarts', 'min_uptime', 'max_memory_restart',
  'listen_timeout', 'wait_ready', 'shutdown_with_message', 'cron_restart', 'out_file', 'error_file',
  'log_file', 'pid_file', 'log_date_format', 'log_type', 'disable_logs', 'time', 'source_map_support',
  'disable_source_map_support', 'append_env_to_name', 'increment_var', 'force', 'port', 'uid', 'gid',
  'name_prefix', 'install_url', 'post_update', 'trace', 'disable_trace', 'v8', 'event_loop_inspector',
  'deep_monitoring', 'execute_command', 'write', 'io', 'SILENT', '_pm2_version',
]
const PM2_INJECTED_SET = new Set(PM2_INJECTED)

/**
 * True for a name no task may see: a credential, a pm2 variable, or the variable pm2 names
 * after the app itself (it holds the app's whole environment as JSON).
 */
export function isForbidden(name: string, env: Record<string, string | undefined>): boolean {
  if (CREDENTIALS.includes(name) || PM2_INJECTED_SET.has(name)) return true
  if (/^(PM2_|pm_|axm_|km_)/.test(name)) return true
  return name === env.name || name === env.PM2_PROCESS_NAME
}

/**
 * The environment of a task: the allowlist, `LC_*`, and `extraNames`, from the sidecar's
 * environment, less anything forbidden. With a task user, HOME is the task dir and USER and
 * LOGNAME its name. AGENTCOM_TASK_ID is added per task by the executor.
 */
export function buildTaskEnv(
  env: Record<string, string | undefined>,
  extraNames: readonly string[],
  opts: { user?: TaskUser | null; taskDir?: string } = {},
): Record<string, string> {
  const names = new Set<string>([...TASK_ENV_ALLOWLIST, ...extraNames])
  for (const name of Object.keys(env)) if (name.startsWith('LC_')) names.add(name)
  const out: Record<string, string> = {}
  for (const name of names) {
    const value = env[name]
    if (value !== undefined && !isForbidden(name, env)) out[name] = value
  }
  if (opts.user) {
    out.USER = opts.user.name
    out.LOGNAME = opts.user.name
    if (opts.taskDir) out.HOME = opts.taskDir
  }
  return out
}

/** The names of AGENTCOM_TASK_ENV that will not be passed, for a warning at start. */
export function refusedTaskEnvNames(names: readonly string[], env: Record<string, string | undefined>): string[] {
  return names.filter((name) => isForbidden(name, env))
}

/**
 * Creates the task dir if missing; with a task user, gives it to that user and (`check`, at
 * start) makes sure the user can reach and write it: each folder above must be searchable.
 */
export async function prepareTaskDir(dir: string, user: TaskUser | null, check = false): Promise<void> {
  const created = await mkdir(dir, { recursive: true, mode: 0o700 })
  if (!user) return
  if (created !== undefined || check) await chown(dir, user.uid, user.gid)
  if (!check) return
  const usable = await new Promise<boolean>((resolve) => {
    execFile('/bin/sh', ['-c', 'cd "$1" && test -w . && test -w "$1"', 'sh', dir], { uid: user.uid, gid: user.gid, timeout: 5000, env: { PATH: '/usr/bin:/bin' } }, (err) => resolve(!err))
  })
  if (!usable) throw new Error(`the task dir ${dir} is not usable by ${user.name}: every folder above it must be searchable by that user`)
}

/** AGENTCOM_TASK_USER to ids, through `id` (so users from NSS count too); null if unknown. */
export async function lookupUser(spec: string, runner: CommandRunner): Promise<TaskUser | null> {
  const ask = async (flag: string) => {
    const res = await runner.run('id', [flag, spec])
    return res.exitCode === 0 ? res.stdout.trim() : null
  }
  const [uid, gid, name] = [await ask('-u'), await ask('-g'), await ask('-un')]
  if (uid === null || gid === null || name === null || !/^\d+$/.test(uid) || !/^\d+$/.test(gid)) return null
  return { name, uid: Number(uid), gid: Number(gid) }
}
