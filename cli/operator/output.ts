/**
 * How the verbs print for people: aligned tables, times as "5 s ago", memory in MiB, colour only
 * on a terminal and never with NO_COLOR (https://no-color.org), and a progress line that is
 * rewritten in place on a terminal and printed as plain lines (on change only) elsewhere.
 */
export interface Sink {
  write(text: string): unknown
  isTTY?: boolean
}

const ESC = '\x1b['
const CODES = { bold: 1, dim: 2, red: 31, green: 32, yellow: 33, cyan: 36 } as const
export type Style = keyof typeof CODES

export function useColour(out: Sink, env: Record<string, string | undefined>): boolean {
  return out.isTTY === true && !env.NO_COLOR
}

export function paint(colour: boolean, style: Style, text: string): string {
  return colour ? `${ESC}${CODES[style]}m${text}${ESC}0m` : text
}

const visibleLength = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '').length

/** Columns padded to their widest cell, two spaces apart; the last column is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], colour: boolean): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ''))))
  const line = (cells: readonly string[]) =>
    cells.map((cell, i) => (i === cells.length - 1 ? cell : cell + ' '.repeat(widths[i] - visibleLength(cell)))).join('  ').trimEnd()
  return [paint(colour, 'bold', line(header)), ...rows.map(line)].join('\n') + '\n'
}

/** "5 s ago", "3 min ago", "2 h ago", "4 d ago"; "-" for never. */
export function ago(at: number | null | undefined, now: number): string {
  if (at === null || at === undefined) return '-'
  const s = Math.max(0, Math.round((now - at) / 1000))
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`
  return `${Math.floor(s / 86_400)} d ago`
}

/** A duration for a progress line: "12 s", "2 min 5 s". */
export function duration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`
}

export function mib(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '-'
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`
}

/** An ISO time for a log line, to the second. */
export function clockTime(at: number): string {
  return new Date(at).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z')
}

const STATUS_STYLE: Record<string, Style> = {
  idle: 'green', working: 'cyan', restarting: 'yellow', offline: 'red', completed: 'green', running: 'cyan',
  failed: 'red', cancelled: 'dim', queued: 'dim', assigned: 'cyan', waiting: 'dim', commanded: 'yellow', deferred: 'yellow',
}

export const paintStatus = (colour: boolean, status: string) => (STATUS_STYLE[status] ? paint(colour, STATUS_STYLE[status], status) : status)

/**
 * A line that shows progress: rewritten in place on a terminal; elsewhere printed whole, and
 * only when it changed, so a log of it stays short.
 */
export function progressLine(out: Sink) {
  let last = ''
  let shown = false
  return {
    update(text: string): void {
      if (out.isTTY) {
        out.write(`\r${ESC}2K${text}`)
        shown = true
      } else if (text !== last) {
        out.write(`${text}\n`)
      }
      last = text
    },
    /** Ends the line on a terminal, so what follows starts on its own. */
    done(): void {
      if (shown) out.write('\n')
      shown = false
    },
  }
}
