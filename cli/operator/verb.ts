/**
 * What every operator verb shares: its flags (node:util parseArgs, with --url, --token, --json
 * and --help on each), the client from AGENTCOM_URL / AGENTCOM_TOKEN, and the exit codes of the
 * contract: 0 done, 1 an API error (one line `agentcom: <what went wrong>` on stderr), 2 a
 * usage error (with that verb's usage).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { ApiError, DEFAULT_URL, createClient, type Answer, type Client } from './client.ts'
import { useColour, type Sink } from './output.ts'

export interface VerbIo {
  stdout: Sink
  stderr: Sink
  env: Record<string, string | undefined>
  /** Ends a verb that follows something (events, --watch, --follow); it then exits 0. */
  signal?: AbortSignal
  /** Every JSON answer the client receives (tests check them against the OpenAPI document). */
  onAnswer?: (answer: Answer) => void
}

export type Verb = (argv: string[], io: VerbIo) => Promise<number>

/** A usage error: the verb prints its usage and exits 2. */
export class UsageError extends Error {}

/** A verb's own failure that is not an API error (a task failed, a rollout did not complete). */
export class Failed extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>

const COMMON = {
  url: { type: 'string' },
  token: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options

type Values = Record<string, string | boolean | (string | boolean)[] | undefined>

export interface VerbContext {
  /** A string flag's value. */
  text(name: string): string | undefined
  flag(name: string): boolean
  /** A repeatable string flag's values. */
  list(name: string): string[]
  positionals: string[]
  client: Client
  io: VerbIo
  json: boolean
  colour: boolean
  out(text: string): void
  /** Writes a value as the API gave it, one JSON document per line; returns exit code 0. */
  printJson(value: unknown): 0
}

/** `run` returns the exit code; it throws UsageError, Failed or ApiError otherwise. */
export function defineVerb(usage: string, options: Options, run: (ctx: VerbContext) => Promise<number>): Verb {
  return async (argv, io) => {
    let parsed
    try {
      parsed = parseArgs({ args: argv, options: { ...options, ...COMMON }, allowPositionals: true, strict: true })
    } catch (err) {
      return usageError(io, usage, (err as Error).message)
    }
    if (parsed.values.help) {
      io.stdout.write(`usage: ${usage}\n`)
      return 0
    }
    const values = parsed.values as Values
    const text = (name: string) => (typeof values[name] === 'string' ? values[name] : undefined)
    const client = createClient({
      url: text('url') ?? io.env.AGENTCOM_URL ?? DEFAULT_URL,
      token: text('token') ?? io.env.AGENTCOM_TOKEN,
      onAnswer: io.onAnswer,
    })
    const ctx: VerbContext = {
      text,
      flag: (name) => values[name] === true,
      list: (name) => (Array.isArray(values[name]) ? values[name].map(String) : []),
      positionals: parsed.positionals, client, io,
      json: values.json === true,
      colour: useColour(io.stdout, io.env),
      out: (text) => io.stdout.write(text),
      printJson: (value) => {
        io.stdout.write(`${JSON.stringify(value)}\n`)
        return 0
      },
    }
    try {
      return await run(ctx)
    } catch (err) {
      if (err instanceof UsageError) return usageError(io, usage, err.message)
      if (err instanceof ApiError || err instanceof Failed) {
        io.stderr.write(`agentcom: ${err.message}\n`)
        return 1
      }
      if (io.signal?.aborted) return 0
      // Anything else (an answer that is not what the API promises, a bug): still one line.
      io.stderr.write(`agentcom: ${err instanceof Error ? err.message : String(err)}\n`)
      return 1
    }
  }
}

function usageError(io: VerbIo, usage: string, message: string): number {
  io.stderr.write(`agentcom: ${message}\nusage: ${usage}\n`)
  return 2
}

/** Exactly `count` positionals, named in the usage error. */
export function positionals(ctx: { positionals: string[] }, ...names: string[]): string[] {
  if (ctx.positionals.length < names.length) throw new UsageError(`missing <${names[ctx.positionals.length]}>`)
  if (ctx.positionals.length > names.length) throw new UsageError(`unexpected argument '${ctx.positionals[names.length]}'`)
  return ctx.positionals
}

/** A whole number flag within bounds, or a usage error naming the flag. */
export function wholeNumber(value: string | undefined, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!/^\d+$/.test(value) || n < min || n > max) throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}`)
  return n
}

/** Waits `ms`, or less when the verb is stopped. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve()
    const timer = setTimeout(done, ms)
    function done() {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}

/** How often --wait and --watch read the hub again. */
export const POLL_MS = 250
