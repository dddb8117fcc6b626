/**
 * A map whose entries count for `ttlMs` after they are set. Expired entries are dropped in a sweep
 * whenever the map has doubled since the last one, so it holds at most about twice the entries that
 * are in use, whatever number of keys or tenants were ever seen (amortised O(1) per set).
 */
export class TtlCache<V> {
  private readonly entries = new Map<string, { readonly value: V; readonly at: number }>()
  private sweepAt = 1024
  private readonly ttlMs: number

  constructor(ttlMs: number) {
    this.ttlMs = ttlMs
  }

  get(key: string, now = Date.now()): V | undefined {
    const e = this.entries.get(key)
    return e !== undefined && now - e.at < this.ttlMs ? e.value : undefined
  }

  set(key: string, value: V, now = Date.now()): void {
    this.entries.set(key, { value, at: now })
    if (this.entries.size < this.sweepAt) return
    for (const [k, e] of this.entries) if (now - e.at >= this.ttlMs) this.entries.delete(k)
    this.sweepAt = Math.max(1024, 2 * this.entries.size)
  }

  delete(key: string): void {
    this.entries.delete(key)
  }

  get size(): number {
    return this.entries.size
  }
}
