/**
 * A Map that keeps at most `limit` entries, dropping the oldest inserted: what the metrics
 * remember per task, restart or action id must not grow with the hub's age.
 */
export class BoundedMap<K, V> {
  readonly #map = new Map<K, V>()

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new Error(`limit must be a positive integer, got ${limit}`)
  }

  get(key: K): V | undefined {
    return this.#map.get(key)
  }

  has(key: K): boolean {
    return this.#map.has(key)
  }

  /** Sets the value; a key set again moves to the newest end. */
  set(key: K, value: V): void {
    this.#map.delete(key)
    this.#map.set(key, value)
    if (this.#map.size > this.limit) this.#map.delete(this.#map.keys().next().value as K)
  }

  delete(key: K): boolean {
    return this.#map.delete(key)
  }

  get size(): number {
    return this.#map.size
  }

  keys(): IterableIterator<K> {
    return this.#map.keys()
  }
}
