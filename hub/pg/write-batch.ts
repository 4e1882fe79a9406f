/**
 * Group commit for writes that each wait for their own commit (an outcome before its ack, a
 * task before its 201): what comes in while a batch is being written goes out together in the
 * next, as one statement and one commit, and each caller's promise settles with its own item's
 * answer once that commit is done. Idle, an item goes out at the end of the turn it came in, so
 * a lone write waits for no one; under load, the round trips and commits per item fall with the
 * load itself. Every item still resolves only after its own change committed: the durability
 * rules are the single statement's.
 */

/** A batch that has not settled by then no longer holds the next one back (its items' callers time out on their own). */
const FLIGHT_DEADLINE_MS = 10_000

export interface WriteBatchOptions<I, R> {
  /** Writes `items` in one commit; answers one result per item, in their order. */
  write(items: I[]): Promise<R[]>
  /**
   * Items with one key never share a batch (one statement may not change a row twice): the
   * later one waits for the next. Default: no key, any items together.
   */
  keyOf?(item: I): string
  /** Items in one batch at most (default 100). */
  maxItems?: number
  /** Batches being written at once (default 1). */
  maxInFlight?: number
}

interface Pending<I, R> {
  item: I
  resolve(result: R): void
  reject(err: unknown): void
}

export class WriteBatch<I, R> {
  private pending: Pending<I, R>[] = []
  private inFlight = 0
  private scheduled = false

  constructor(private readonly o: WriteBatchOptions<I, R>) {}

  /** Resolves with the item's answer once its batch committed; rejects if the batch failed. */
  add(item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject })
      this.schedule()
    })
  }

  /** Takes back the items not yet sent that `match` picks, settling them with `answer`; returns how many. */
  takeBack(match: (item: I) => boolean, answer: R): number {
    const taken = this.pending.filter((p) => match(p.item))
    if (taken.length === 0) return 0
    this.pending = this.pending.filter((p) => !match(p.item))
    for (const p of taken) p.resolve(answer)
    return taken.length
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= (this.o.maxInFlight ?? 1)) return
    this.scheduled = true
    // The end of this turn: the items the same turn adds (frames read together) go along.
    queueMicrotask(() => {
      this.scheduled = false
      this.flush()
    })
  }

  private flush(): void {
    if (this.pending.length === 0 || this.inFlight >= (this.o.maxInFlight ?? 1)) return
    const batch: Pending<I, R>[] = []
    const rest: Pending<I, R>[] = []
    const keys = new Set<string>()
    const max = this.o.maxItems ?? 100
    for (const p of this.pending) {
      const key = this.o.keyOf?.(p.item)
      if (batch.length >= max || (key !== undefined && keys.has(key))) rest.push(p)
      else {
        if (key !== undefined) keys.add(key)
        batch.push(p)
      }
    }
    this.pending = rest
    this.inFlight++
    let timer: ReturnType<typeof setTimeout> | undefined
    let over = false
    const done = () => {
      if (over) return
      over = true
      clearTimeout(timer)
      this.inFlight--
      if (this.pending.length > 0) this.schedule()
    }
    timer = setTimeout(done, FLIGHT_DEADLINE_MS)
    let written: Promise<R[]>
    try {
      written = this.o.write(batch.map((p) => p.item))
    } catch (err) {
      written = Promise.reject(err)
    }
    written.then((results) => {
      done()
      batch.forEach((p, i) => p.resolve(results[i]))
    }, (err) => {
      done()
      for (const p of batch) p.reject(err)
    })
  }
}
