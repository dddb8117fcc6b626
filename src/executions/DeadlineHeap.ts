/**
 * A binary min-heap of (deadline ms, tenant id, trace id), kept in three parallel arrays: about 16
 * bytes per entry (a packed double and two string references), no object per entry. Entries are
 * never updated or removed in place; the owner checks a popped entry against its current state and
 * drops it when stale (lazy deletion), and rebuilds the heap when stale entries pile up.
 */
export class DeadlineHeap {
  private readonly ats: Array<number> = []
  private readonly tenants: Array<string> = []
  private readonly traces: Array<string> = []

  get size(): number {
    return this.ats.length
  }

  /** The earliest deadline, or Infinity when empty. */
  topAt(): number {
    return this.ats.length === 0 ? Number.POSITIVE_INFINITY : this.ats[0]!
  }

  push(at: number, tenantId: string, traceId: string): void {
    this.ats.push(at)
    this.tenants.push(tenantId)
    this.traces.push(traceId)
    let i = this.ats.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (this.ats[parent]! <= at) break
      this.swap(i, parent)
      i = parent
    }
  }

  /** Removes the earliest entry and hands it to `f` (nothing when empty). */
  pop<A>(f: (at: number, tenantId: string, traceId: string) => A): A | undefined {
    const n = this.ats.length
    if (n === 0) return undefined
    const at = this.ats[0]!
    const tenantId = this.tenants[0]!
    const traceId = this.traces[0]!
    this.swap(0, n - 1)
    this.ats.pop()
    this.tenants.pop()
    this.traces.pop()
    this.siftDown(0)
    return f(at, tenantId, traceId)
  }

  /** Empties the heap (before refilling it with the live entries only). */
  clear(): void {
    this.ats.length = 0
    this.tenants.length = 0
    this.traces.length = 0
  }

  private siftDown(start: number): void {
    const n = this.ats.length
    let i = start
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) return
      const r = l + 1
      const c = r < n && this.ats[r]! < this.ats[l]! ? r : l
      if (this.ats[i]! <= this.ats[c]!) return
      this.swap(i, c)
      i = c
    }
  }

  private swap(i: number, j: number): void {
    const a = this.ats[i]!
    this.ats[i] = this.ats[j]!
    this.ats[j] = a
    const t = this.tenants[i]!
    this.tenants[i] = this.tenants[j]!
    this.tenants[j] = t
    const x = this.traces[i]!
    this.traces[i] = this.traces[j]!
    this.traces[j] = x
  }
}
