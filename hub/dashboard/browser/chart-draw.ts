/**
 * The charts' drawing, as inline SVG (nothing to fetch, nothing inline for the CSP to refuse):
 * the fleet's statuses and finished tasks over the last hour, and an agent's memory sparkline.
 */
import { formatBytes } from './format.ts'

/** One memory report of an agent. */
export interface MemoryPoint { at: number; rss_bytes: number }

/** One minute of the fleet: the most agents seen in each status, and the tasks finished. */
export interface MinuteSample { at: number; agents: Record<string, number>; finished: Record<string, number> }

export const SPARK_POINTS = 30
export const CHART_MINUTES = 60
export const STATUS_SERIES = ['idle', 'working', 'restarting', 'offline'] as const
export const FINAL_STATUSES = ['completed', 'failed', 'cancelled'] as const

const CHART_W = 600
const CHART_H = 120
const PAD = 4
const SLOT = (CHART_W - 2 * PAD) / CHART_MINUTES

let svgNamespace: string | null = null

/** The page's own charts were parsed as SVG: their namespace, with no address written here. */
function svgEl(tag: string, attrs: Record<string, string | number>): SVGElement {
  svgNamespace ??= document.getElementById('chart-statuses')!.namespaceURI
  const node = document.createElementNS(svgNamespace, tag) as SVGElement
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v))
  return node
}

export function zeroes(keys: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const k of keys) out[k] = 0
  return out
}

/** The left edge of a minute's slot: 60 slots, the newest minute at the right. */
function slotX(at: number, first: number, minuteMs: number): number {
  return PAD + Math.round((at - first) / minuteMs) * SLOT
}

function chartY(n: number, max: number): number {
  return CHART_H - PAD - (n / max) * (CHART_H - 2 * PAD - 12)
}

function scale(max: number): SVGElement {
  const text = svgEl('text', { x: PAD, y: 12, class: 'chart-scale' })
  text.textContent = String(max)
  return text
}

export function drawStatuses(svg: SVGSVGElement, minutes: readonly MinuteSample[], first: number, minuteMs: number, now: Record<string, number>): void {
  const shown = minutes.filter((m) => m.at >= first)
  let max = 1
  for (const m of shown) for (const s of STATUS_SERIES) max = Math.max(max, m.agents[s] || 0)
  const nodes = [scale(max)]
  STATUS_SERIES.forEach((s, i) => {
    // A step per minute; each series a pixel or two above the next, so equal counts stay visible.
    const points: string[] = []
    for (const m of shown) {
      const x = slotX(m.at, first, minuteMs)
      const y = (chartY(m.agents[s] || 0, max) - (STATUS_SERIES.length - 1 - i) * 1.5).toFixed(1)
      points.push(`${x.toFixed(1)},${y}`, `${(x + SLOT).toFixed(1)},${y}`)
    }
    const line = svgEl('polyline', { points: points.join(' '), class: `series line-${s}` })
    line.dataset.status = s
    nodes.push(line)
  })
  svg.replaceChildren(...nodes)
  const most = zeroes(STATUS_SERIES)
  for (const m of shown) for (const s of STATUS_SERIES) most[s] = Math.max(most[s]!, m.agents[s] || 0)
  const say = (counts: Record<string, number>) => STATUS_SERIES.map((s) => `${counts[s]} ${s}`).join(', ')
  svg.setAttribute('aria-label', `Agents by status, last hour. Now: ${say(now)}. Most in one minute: ${say(most)}`)
}

export function drawFinished(svg: SVGSVGElement, minutes: readonly MinuteSample[], first: number, minuteMs: number): void {
  const shown = minutes.filter((m) => m.at >= first)
  let max = 1
  for (const m of shown) max = Math.max(max, FINAL_STATUSES.reduce((n, s) => n + (m.finished[s] || 0), 0))
  const nodes = [scale(max)]
  for (const m of shown) {
    let y = CHART_H - PAD
    for (const s of FINAL_STATUSES) {
      const n = m.finished[s] || 0
      if (!n) continue
      const h = CHART_H - PAD - chartY(n, max)
      y -= h
      const x = slotX(m.at, first, minuteMs) + 1
      nodes.push(svgEl('rect', { x: x.toFixed(1), y: y.toFixed(1), width: (SLOT - 2).toFixed(1), height: h.toFixed(1), class: `bar bar-${s}` }))
    }
  }
  svg.replaceChildren(...nodes)
  let total = 0
  let failed = 0
  for (const m of shown) {
    for (const s of FINAL_STATUSES) total += m.finished[s] || 0
    failed += m.finished.failed || 0
  }
  svg.setAttribute('aria-label', `Tasks finished per minute, last hour: ${total} finished, ${failed} failed`)
}

/** An agent's memory over its last reports, in the Memory cell of its row. */
export function drawSparkline(svg: SVGSVGElement, points: readonly MemoryPoint[]): void {
  svg.dataset.points = String(points.length)
  if (points.length < 2) { svg.replaceChildren(); return }
  let lo = Infinity
  let hi = -Infinity
  for (const p of points) { lo = Math.min(lo, p.rss_bytes); hi = Math.max(hi, p.rss_bytes) }
  const span = hi - lo || 1
  const step = 60 / (SPARK_POINTS - 1)
  const offset = 60 - step * (points.length - 1)
  const coords = points.map((p, i) => `${(offset + i * step).toFixed(1)},${(15 - ((p.rss_bytes - lo) / span) * 14).toFixed(1)}`)
  svg.replaceChildren(svgEl('polyline', { points: coords.join(' '), class: 'spark-line' }))
  svg.setAttribute('aria-label', `Memory over the last ${points.length} reports, ${formatBytes(lo)} to ${formatBytes(hi)}`)
}

export function createSparkline(): SVGSVGElement {
  const svg = svgEl('svg', { class: 'spark', viewBox: '0 0 60 16', role: 'img', 'aria-label': 'No memory history yet' }) as SVGSVGElement
  svg.dataset.points = '0'
  return svg
}
