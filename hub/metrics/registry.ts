/**
 * A small metrics registry and its exposition in the Prometheus text format 0.0.4, on Web APIs
 * only (the portable core's rule): counters, gauges and histograms with fixed label names.
 * prom-client needs Node; the format is simple enough to write here in full. Label values come
 * from the hub's own vocabularies (statuses, kinds, rules), never from requests.
 */

/** What `GET /metrics` answers with. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

export type Labels = Readonly<Record<string, string>>

interface Metric {
  readonly name: string
  readonly help: string
  readonly type: 'counter' | 'gauge' | 'histogram'
  /** The sample lines, each `name{labels} value`; `scrape` is what expose() was given. */
  lines(scrape: unknown): Promise<string[]> | string[]
}

/** Series of one metric by their label values, in the order the label names were declared. */
class Series<T> {
  readonly #byKey = new Map<string, { labels: Labels; value: T }>()

  constructor(readonly labelNames: readonly string[], private readonly initial: () => T) {}

  get(labels: Labels): { labels: Labels; value: T } {
    const names = Object.keys(labels)
    if (names.length !== this.labelNames.length || this.labelNames.some((n) => !(n in labels))) {
      throw new Error(`labels must be exactly ${JSON.stringify(this.labelNames)}, got ${JSON.stringify(names)}`)
    }
    const key = this.labelNames.map((n) => labels[n]).join('\u0000')
    let entry = this.#byKey.get(key)
    if (!entry) {
      entry = { labels: Object.fromEntries(this.labelNames.map((n) => [n, labels[n]])), value: this.initial() }
      this.#byKey.set(key, entry)
    }
    return entry
  }

  all(): Iterable<{ labels: Labels; value: T }> {
    return this.#byKey.values()
  }
}

export class Counter implements Metric {
  readonly type = 'counter'
  readonly #series: Series<{ n: number }>

  constructor(readonly name: string, readonly help: string, labelNames: readonly string[], private readonly constLabels: Labels) {
    this.#series = new Series(labelNames, () => ({ n: 0 }))
  }

  /** Registers the series at 0, so a rate() over it starts from the hub's start. */
  zero(labels: Labels = {}): void {
    this.#series.get(labels)
  }

  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new RangeError(`${this.name}: a counter only goes up, got ${by}`)
    this.#series.get(labels).value.n += by
  }

  value(labels: Labels = {}): number {
    return this.#series.get(labels).value.n
  }

  lines(): string[] {
    return [...this.#series.all()].map((s) => sample(this.name, { ...this.constLabels, ...s.labels }, s.value.n))
  }
}

export type GaugeSamples = Array<{ labels?: Labels; value: number }>

/**
 * A gauge whose series are read when scraped (`collect`), from whoever owns the value. `scrape`
 * is what that exposition was given, e.g. a read several gauges share.
 */
export class Gauge implements Metric {
  readonly type = 'gauge'

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly collect: (scrape: any) => Promise<GaugeSamples> | GaugeSamples,
    private readonly constLabels: Labels,
  ) {}

  async lines(scrape: unknown): Promise<string[]> {
    return (await this.collect(scrape)).map((s) => sample(this.name, { ...this.constLabels, ...s.labels }, s.value))
  }
}

export class Histogram implements Metric {
  readonly type = 'histogram'
  readonly #buckets: readonly number[]
  #counts: number[]
  #sum = 0
  #count = 0

  constructor(readonly name: string, readonly help: string, buckets: readonly number[], private readonly constLabels: Labels) {
    if (buckets.length === 0 || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]))) {
      throw new Error(`${name}: buckets must be finite and increasing`)
    }
    this.#buckets = buckets
    this.#counts = buckets.map(() => 0)
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return
    for (let i = 0; i < this.#buckets.length; i++) if (value <= this.#buckets[i]) this.#counts[i]++
    this.#sum += value
    this.#count++
  }

  get count(): number {
    return this.#count
  }

  lines(): string[] {
    const c = this.constLabels
    return [
      ...this.#buckets.map((le, i) => sample(`${this.name}_bucket`, { ...c, le: formatNumber(le) }, this.#counts[i])),
      sample(`${this.name}_bucket`, { ...c, le: '+Inf' }, this.#count),
      sample(`${this.name}_sum`, c, this.#sum),
      sample(`${this.name}_count`, c, this.#count),
    ]
  }
}

export class Registry {
  readonly #metrics = new Map<string, Metric>()

  /** `constLabels` go on every series of the metrics registered after (e.g. `hub_id`). */
  counter(name: string, help: string, labelNames: readonly string[] = [], constLabels: Labels = {}): Counter {
    return this.#add(new Counter(name, help, labelNames, constLabels))
  }

  gauge(name: string, help: string, collect: ConstructorParameters<typeof Gauge>[2], constLabels: Labels = {}): Gauge {
    return this.#add(new Gauge(name, help, collect, constLabels))
  }

  histogram(name: string, help: string, buckets: readonly number[], constLabels: Labels = {}): Histogram {
    return this.#add(new Histogram(name, help, buckets, constLabels))
  }

  /**
   * The whole exposition; `scrape` goes to every gauge's collect. A gauge whose source fails is
   * left out, with a comment saying so.
   */
  async expose(scrape?: unknown): Promise<string> {
    const blocks = await Promise.all([...this.#metrics.values()].map(async (m) => {
      const head = `# HELP ${m.name} ${escapeHelp(m.help)}\n# TYPE ${m.name} ${m.type}\n`
      try {
        const lines = await m.lines(scrape)
        return head + lines.map((l) => `${l}\n`).join('')
      } catch {
        // Not the error text: it could hold anything. The rest of the scrape still counts.
        return `# ${m.name} could not be read now\n`
      }
    }))
    return blocks.join('')
  }

  #add<M extends Metric>(metric: M): M {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(metric.name)) throw new Error(`invalid metric name ${metric.name}`)
    if (this.#metrics.has(metric.name)) throw new Error(`metric ${metric.name} registered twice`)
    this.#metrics.set(metric.name, metric)
    return metric
  }
}

function sample(name: string, labels: Labels, value: number): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`)
  return `${name}${pairs.length ? `{${pairs.join(',')}}` : ''} ${formatNumber(value)}`
}

function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN'
  if (n === Infinity) return '+Inf'
  if (n === -Infinity) return '-Inf'
  return String(n)
}

// The format's escapes: a backslash, a double quote (labels only) and a line feed.
function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}
