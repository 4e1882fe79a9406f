/**
 * Queued task ids in insertion order (each task's sequence number, as the cluster's claim
 * orders by `tasks.seq`): a task queued again goes back to its own place, ahead of newer ones.
 * New tasks append and claims take mostly from the front, so both are cheap; a task taken from
 * the middle (labels, a pin, a cancel) costs a splice.
 */
export class SeqQueue {
  /** The queue is ids[head..], ascending by seq: taking from the front moves no other entry. */
  private ids: string[] = []
  private head = 0

  constructor(private readonly seqOf: (taskId: string) => number) {}

  get size(): number {
    return this.ids.length - this.head
  }

  add(taskId: string): void {
    const seq = this.seqOf(taskId)
    const at = this.place(seq)
    if (at < this.ids.length && this.ids[at] === taskId) return
    if (at === this.ids.length) this.ids.push(taskId)
    else if (at === this.head && this.head > 0) this.ids[--this.head] = taskId
    else this.ids.splice(at, 0, taskId)
  }

  delete(taskId: string): void {
    const at = this.place(this.seqOf(taskId))
    if (this.ids[at] !== taskId) return
    if (at === this.head) this.head++
    else this.ids.splice(at, 1)
    if (this.head > 1024 && this.head * 2 > this.ids.length) {
      this.ids = this.ids.slice(this.head)
      this.head = 0
    }
  }

  /** The queued ids, oldest first (a copy: the caller may change the queue meanwhile). */
  snapshot(): string[] {
    return this.ids.slice(this.head)
  }

  /** The ids, oldest first, while the caller changes nothing. */
  *[Symbol.iterator](): Generator<string> {
    for (let i = this.head; i < this.ids.length; i++) yield this.ids[i]
  }

  /** The index of the first entry whose seq is not below `seq`. */
  private place(seq: number): number {
    let lo = this.head
    let hi = this.ids.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.seqOf(this.ids[mid]) < seq) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}
