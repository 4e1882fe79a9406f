/**
 * Scrapes a hub's GET /metrics and reads it with parse-prometheus-text-format (the parser the
 * JavaScript Prometheus tools use, a port of the Python client's), so tests check the format
 * through a parser of it, not through our own reading.
 */
import parsePrometheusTextFormat from 'parse-prometheus-text-format'

export interface ParsedFamily {
  name: string
  help: string
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED'
  metrics: Array<{ value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }>
}

export async function scrape(url: string, token: string): Promise<{ status: number; contentType: string | null; families: ParsedFamily[]; text: string }> {
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${token}` } })
  const text = await res.text()
  return { status: res.status, contentType: res.headers.get('content-type'), families: res.status === 200 ? parse(text) : [], text }
}

/**
 * The parser keeps a histogram's `_sum` and `_count` only when they have no labels (it drops
 * them beside `hub_id`): such a histogram's samples are parsed again with that label moved
 * into the name, which leaves the format as the parser reads it.
 */
export function parse(text: string): ParsedFamily[] {
  const families = parsePrometheusTextFormat(text) as ParsedFamily[]
  for (const f of families) {
    if (f.type !== 'HISTOGRAM' || f.metrics.every((m) => m.count !== undefined)) continue
    const own = text.split('\n').filter((l) => l.startsWith(`${f.name}_`) || l === `# TYPE ${f.name} histogram`)
      .map((l) => l.replace(/\{hub_id="[^"]*",?/, '{').replace('{}', ''))
    const reparsed = parsePrometheusTextFormat(`${own.join('\n')}\n`) as ParsedFamily[]
    f.metrics = reparsed[0]?.metrics ?? f.metrics
  }
  return families
}

export function family(families: ParsedFamily[], name: string): ParsedFamily {
  const found = families.find((f) => f.name === name)
  if (!found) throw new Error(`no metric ${name} in the exposition`)
  return found
}

/** The value of the one series of `name` whose labels include `labels`. */
export function value(families: ParsedFamily[], name: string, labels: Record<string, string> = {}): number {
  const series = family(families, name).metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
  if (series.length !== 1) throw new Error(`${series.length} series of ${name} match ${JSON.stringify(labels)}`)
  return Number(series[0].value)
}

/** A histogram's one series: its count, sum and cumulative buckets by `le`. */
export function histogram(families: ParsedFamily[], name: string): { count: number; sum: number; buckets: Record<string, number> } {
  const [series, ...more] = family(families, name).metrics
  if (!series || more.length > 0) throw new Error(`${name} should have one series`)
  const buckets = Object.fromEntries(Object.entries(series.buckets ?? {}).map(([le, n]) => [le, Number(n)]))
  return { count: Number(series.count), sum: Number(series.sum), buckets }
}
