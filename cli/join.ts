/**
 * `agentcom join <hub url> --token <join token> --id <agent_id> ...`, on an agent machine:
 * enrolls the agent (POST /api/enroll), keeps its token in `<config dir>/<agent_id>.token`
 * (0600) and its sidecar's settings next to it (`<agent_id>.pm2.json`, the pm2 app), starts it
 * under this machine's pm2 as `agentcom-<agent_id>` and runs `pm2 save`. Run again, it keeps the
 * token and replaces the sidecar with one on the new settings.
 */
import { execFile } from 'node:child_process'
import { chmod, mkdir, readFile, realpath, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import * as v from 'valibot'
import { AgentId } from '../shared/protocol.ts'
import { Labels } from '../hub/enroll/join-token.ts'
import { MAX_LABELS } from '../shared/labels.ts'
import { UsageError, parseList, parseVerbArgs, verbLogger, type CliIo } from './args.ts'
import { hubUrls } from './hub-url.ts'

export const usage = [
  'usage: agentcom join <hub url> --token <join token> --id <agent_id> [--labels <l,...>]',
  '                     [--task-command <cmd>] [--task-dir <dir>] [--config-dir <dir>]',
  '  <hub url>: http(s)://host[:port] or ws(s)://host[:port]/ws. The join token comes from',
  '  `agentcom token join` on the hub\'s machine. --config-dir: default ~/.config/agentcom.',
  '  pm2 is this machine\'s (PM2_HOME of the environment, else ~/.pm2).',
].join('\n')

const PM2_BIN = createRequire(import.meta.url).resolve('pm2/bin/pm2')

/** What `join` keeps between runs, in the pm2 app's env (the settings file). */
interface Settings {
  AGENTCOM_HUB_URL: string
  AGENTCOM_AGENT_ID: string
  AGENTCOM_TOKEN_FILE: string
  AGENTCOM_DATA_DIR: string
  /** The labels the join token gave, kept apart so a later --labels does not drop them. */
  AGENTCOM_JOIN_LABELS?: string
  AGENTCOM_LABELS?: string
  AGENTCOM_TASK_COMMAND?: string
  AGENTCOM_TASK_DIR?: string
  PM2_PROCESS_NAME: string
}

export async function run(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseVerbArgs(args, {
    token: { type: 'string' },
    id: { type: 'string' },
    labels: { type: 'string' },
    'task-command': { type: 'string' },
    'task-dir': { type: 'string' },
    'config-dir': { type: 'string' },
  })
  if (positionals.length !== 1) throw new UsageError('say the hub url, once')
  const urls = hubUrls(positionals[0])
  if (!urls) throw new UsageError('the hub url must be http(s)://host[:port] or ws(s)://host[:port]/ws')
  if (values.id === undefined || !v.is(AgentId, values.id)) throw new UsageError('--id must be 1 to 64 characters of A-Za-z0-9._-')
  const labels = values.labels === undefined ? undefined : parseList(values.labels)
  if (labels && !v.is(Labels, labels)) throw new UsageError('--labels: each label is name or name=value, each 1 to 64 characters of A-Za-z0-9._-')
  const agentId = values.id
  const log = verbLogger(io)
  const configDir = resolve(values['config-dir'] ?? join(io.env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'agentcom'))
  const tokenFile = join(configDir, `${agentId}.token`)
  const settingsFile = join(configDir, `${agentId}.pm2.json`)
  const name = `agentcom-${agentId}`
  await mkdir(configDir, { recursive: true, mode: 0o700 })

  const previous = await readSettings(settingsFile)
  let joinLabels = previous?.AGENTCOM_JOIN_LABELS
  if (await hasToken(tokenFile)) {
    log.info(`${agentId}'s agent token is in its file already: keeping it (no second enrollment)`, { agent_id: agentId, file: tokenFile })
  } else {
    if (values.token === undefined) throw new UsageError('--token is required to enroll')
    const enrolled = await enroll(urls.http, values.token, agentId)
    await writeFile(tokenFile, `${enrolled.token}\n`, { mode: 0o600 })
    await chmod(tokenFile, 0o600) // a file left by an earlier run keeps its mode otherwise
    joinLabels = enrolled.labels.join(',') || undefined
    log.info(`enrolled ${agentId}; its token is in its file (mode 0600)`, { agent_id: agentId, hub: urls.http, file: tokenFile })
  }

  const settings: Settings = {
    AGENTCOM_HUB_URL: urls.ws,
    AGENTCOM_AGENT_ID: agentId,
    AGENTCOM_TOKEN_FILE: tokenFile,
    AGENTCOM_DATA_DIR: previous?.AGENTCOM_DATA_DIR ?? join(configDir, 'data'),
    PM2_PROCESS_NAME: name,
  }
  const ownLabels = labels ?? parseList(previous?.AGENTCOM_LABELS).filter((l) => !parseList(joinLabels).includes(l))
  const allLabels = [...new Set([...parseList(joinLabels), ...ownLabels])]
  // The sidecar would stop at start (exit 78) under pm2: refused here, the token kept for a rerun.
  if (allLabels.length > MAX_LABELS) {
    throw new UsageError(`${allLabels.length} labels with the join token's ${parseList(joinLabels).length}: at most ${MAX_LABELS}; give fewer --labels`)
  }
  if (joinLabels) settings.AGENTCOM_JOIN_LABELS = joinLabels
  if (allLabels.length > 0) settings.AGENTCOM_LABELS = allLabels.join(',')
  const taskCommand = values['task-command'] ?? previous?.AGENTCOM_TASK_COMMAND
  if (taskCommand !== undefined) settings.AGENTCOM_TASK_COMMAND = taskCommand
  const taskDir = values['task-dir'] === undefined ? previous?.AGENTCOM_TASK_DIR : resolve(values['task-dir'])
  if (taskDir !== undefined) settings.AGENTCOM_TASK_DIR = taskDir
  await writeFile(settingsFile, `${JSON.stringify({ apps: [await sidecarApp(name, configDir, settings)] }, null, 2)}\n`, { mode: 0o600 })
  log.info(`${agentId}'s sidecar settings written`, { agent_id: agentId, settings_file: settingsFile })

  const env: NodeJS.ProcessEnv = { ...io.env }
  // Which pm2 app a process is, pm2 tells it; never inherited from the shell that runs join.
  delete env.pm_id
  delete env.name
  const pm2 = (pm2Args: string[]) => promisify(execFile)(process.execPath, [PM2_BIN, ...pm2Args], { env, timeout: 60_000 })
  // Replaced, not reloaded: every setting (script, interpreter, environment) is the new one.
  const replaced = await pm2(['delete', name]).then(() => true, () => false)
  await pm2(['start', settingsFile])
  await pm2(['save'])
  const home = io.env.PM2_HOME || join(homedir(), '.pm2')
  log.info(`${replaced ? 'restarted' : 'started'} ${name} under pm2 and saved pm2's process list (pm2 save)`, { pm2_name: name, pm2_home: home })
  log.info('next: to bring it back after a reboot, run `pm2 startup` once as this user (it prints one command to run as root)', {
    command: `${process.execPath} ${PM2_BIN} startup`,
  })
  return 0
}

/** The pm2 app of the sidecar: this package's `agentcom sidecar`, restarted unless misconfigured. */
async function sidecarApp(name: string, cwd: string, env: Settings) {
  return {
    name,
    script: await agentcomScript(),
    args: ['sidecar'],
    interpreter: process.execPath,
    cwd,
    exec_mode: 'fork',
    autorestart: true,
    // 78 is a configuration error: restarting would only fail again.
    stop_exit_codes: [78],
    // Nothing of the shell that ran join (an admin's AGENTCOM_TOKEN, a hub's secret) reaches the
    // sidecar: its AGENTCOM_ settings are these, and only these.
    filter_env: ['AGENTCOM_'],
    // As sidecar/pm2-app.cjs: a task may finish within the sidecar's own shutdown grace, pm2's
    // SIGINT goes to the sidecar alone, and a crash loop backs off.
    kill_timeout: 30_000,
    treekill: false,
    exp_backoff_restart_delay: 10,
    env,
  }
}

/** The built `agentcom` this runs as (the package's bin); from the sources, the repository's build. */
async function agentcomScript(): Promise<string> {
  const self = await realpath(process.argv[1] ?? '')
  if (self.endsWith('.js')) return self
  const built = resolve(import.meta.dirname, '../dist/package/agentcom.js')
  try {
    await readFile(built)
  } catch {
    throw new Error(`${built} is not built: run npm run build`)
  }
  return built
}

async function readSettings(file: string): Promise<Partial<Settings> | null> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as { apps?: { env?: Partial<Settings> }[] }
    return parsed.apps?.[0]?.env ?? null
  } catch {
    return null
  }
}

async function hasToken(file: string): Promise<boolean> {
  try {
    return (await readFile(file, 'utf8')).trim() !== ''
  } catch {
    return false
  }
}

/** POST /api/enroll; throws one line saying why it was refused. */
async function enroll(httpBase: string, joinToken: string, agentId: string): Promise<{ token: string; labels: string[] }> {
  let res: Response
  try {
    res = await fetch(`${httpBase}/api/enroll`, {
      method: 'POST',
      headers: { authorization: `Bearer ${joinToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ agent_id: agentId }),
      signal: AbortSignal.timeout(30_000),
    })
  } catch (err) {
    throw new Error(`cannot reach the hub at ${httpBase}: ${(err as Error).message}`)
  }
  const body = await res.json().catch(() => null) as { token?: unknown; labels?: unknown; issues?: { message: string }[] } | null
  if (res.status === 201 && typeof body?.token === 'string') {
    return { token: body.token, labels: Array.isArray(body.labels) ? body.labels.filter((l): l is string => typeof l === 'string') : [] }
  }
  if (res.status === 401) throw new Error('the hub refused the join token (wrong, expired, revoked or used up)')
  if (res.status === 409) throw new Error(`the hub already knows an agent ${agentId}: choose another --id`)
  if (res.status === 400) throw new Error(`the hub refused the request: ${body?.issues?.[0]?.message ?? 'invalid request'}`)
  throw new Error(`the hub answered ${res.status} to the enrollment`)
}
