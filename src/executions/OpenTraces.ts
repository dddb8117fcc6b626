import { DeadlineHeap } from "./DeadlineHeap.ts"

// The tenant supervisor's bookkeeping, without effects: which executions of which tenant this process
// believes open, their idle deadlines in one process-wide heap, which are due, and when a tenant's
// actor has nothing left to do. The supervisor (TenantSupervisor.ts) runs the timer and the actors.

/**
 * A tenant's open executions as this process knows them. It exists only while the tenant has some
 * (or its actor is running), so an idle tenant costs nothing. The deadlines mirror the Redis zset and
 * may be early (another process extended one), never trusted: a due one is claimed or re-read there.
 */
export interface TenantTraces {
  readonly open: Map<string, number>
  /** Past their in-memory deadline, waiting for the actor to claim them or re-read their deadline. */
  readonly due: Set<string>
  /** The open executions recorded in Redis have been read (after a start or a reload). */
  loaded: boolean
  /** The actor is running or waiting to restart; it ends once `loaded` and nothing is due. */
  running: boolean
}

export class OpenTraces {
  readonly tenants = new Map<string, TenantTraces>()
  private readonly heap = new DeadlineHeap()
  private count = 0
  private readonly onSchedule: (at: number) => void

  /** `onSchedule(at)`: a deadline entered the heap (the timer may have to wake earlier). */
  constructor(onSchedule: (at: number) => void) {
    this.onSchedule = onSchedule
  }

  get openTraces(): number {
    return this.count
  }

  /** The earliest deadline in the heap (possibly stale), or Infinity. */
  nextAt(): number {
    return this.heap.topAt()
  }

  stateOf(tenantId: string): TenantTraces {
    let s = this.tenants.get(tenantId)
    if (s === undefined) {
      s = { open: new Map(), due: new Set(), loaded: false, running: false }
      this.tenants.set(tenantId, s)
    }
    return s
  }

  private schedule(at: number, tenantId: string, traceId: string) {
    this.heap.push(at, tenantId, traceId)
    // Stale entries (finished or extended executions) are dropped lazily; rebuilt before they dominate.
    if (this.heap.size > 2 * this.count + 1024) {
      this.heap.clear()
      for (const [t, s] of this.tenants) for (const [id, d] of s.open) this.heap.push(d, t, id)
    }
    this.onSchedule(at)
  }

  // Invariant: every execution in `open` has a heap entry at or before its deadline, or is in `due`.
  setDeadline(tenantId: string, s: TenantTraces, traceId: string, at: number): void {
    const before = s.open.get(traceId)
    s.open.set(traceId, at)
    if (before === undefined) this.count++
    if (before === undefined || at < before) this.schedule(at, tenantId, traceId)
  }

  forget(s: TenantTraces, traceId: string): void {
    if (s.open.delete(traceId)) this.count--
    s.due.delete(traceId)
  }

  /** The execution finished: forgotten, and its tenant too when nothing else is open and no actor runs. */
  closed(tenantId: string, traceId: string): void {
    const s = this.tenants.get(tenantId)
    if (s === undefined) return
    this.forget(s, traceId)
    if (s.open.size === 0 && !s.running) this.tenants.delete(tenantId)
  }

  /** After a claim: `current[i]` is the deadline Redis holds for `ids[i]` (undefined: finished or claimed elsewhere). */
  readBack(tenantId: string, s: TenantTraces, ids: ReadonlyArray<string>, current: ReadonlyArray<number | undefined>): void {
    ids.forEach((id, i) => {
      const at = current[i]
      if (at === undefined) this.forget(s, id)
      else if (s.due.delete(id)) {
        s.open.set(id, at)
        this.schedule(at, tenantId, id)
      }
    })
  }

  /** Whether the tenant's actor may end now (loaded, nothing due); a tenant left with nothing open is dropped. */
  actorDone(tenantId: string, s: TenantTraces): boolean {
    if (!s.loaded || s.due.size > 0) return false
    s.running = false
    if (s.open.size === 0 && this.tenants.get(tenantId) === s) this.tenants.delete(tenantId)
    return true
  }

  /** Moves the executions whose in-memory deadline passed to their tenant's `due`; the tenants whose actor must start. */
  takeDue(now: number): Array<[string, TenantTraces]> {
    const ready: Array<[string, TenantTraces]> = []
    while (this.heap.topAt() <= now) {
      this.heap.pop((_at, tenantId, traceId) => {
        const s = this.tenants.get(tenantId)
        const current = s?.open.get(traceId)
        if (s === undefined || current === undefined) return
        if (current > now) {
          this.heap.push(current, tenantId, traceId) // extended meanwhile
          return
        }
        s.due.add(traceId)
        if (!s.running) ready.push([tenantId, s])
      })
    }
    return ready
  }

  stats() {
    return { tenants: this.tenants.size, actors: [...this.tenants.values()].filter((s) => s.running).length, openTraces: this.count }
  }
}
