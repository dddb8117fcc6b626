import { Effect } from "effect"
import type { TraceRegistry } from "./TraceRegistry.ts"

// TraceRegistry's in-memory twin (TraceRegistry.Test): the deadline and claim zsets and their claim
// rule (a lapsed claim first, then due deadlines, each claimed once per lease), without Redis.

const byScore = (z: ReadonlyMap<string, number>, max: number, limit: number) =>
  [...z].filter(([, at]) => at <= max).sort(([a, x], [b, y]) => x - y || (a < b ? -1 : 1)).slice(0, limit).map(([id]) => id)

/** `defaultLeaseMs`: the claim lease when the caller names none (CLAIM_LEASE_MS). */
export const makeMemoryTraceRegistry = (defaultLeaseMs: number) => Effect.sync((): TraceRegistry["Type"] => {
  const traces = new Map<string, Map<string, number>>()
  const claimed = new Map<string, Map<string, number>>()
  const tenants = new Set<string>()
  const zset = (m: Map<string, Map<string, number>>, tenantId: string) => {
    let z = m.get(tenantId)
    if (z === undefined) m.set(tenantId, (z = new Map()))
    return z
  }
  return {
    touch: (tenantId: string, traceId: string, deadlineMs: number) =>
      Effect.sync(() => {
        zset(traces, tenantId).set(traceId, deadlineMs)
        tenants.add(tenantId)
      }),
    close: (tenantId: string, traceId: string) => Effect.sync(() => void zset(traces, tenantId).delete(traceId)),
    deadlines: (tenantId: string, traceIds: ReadonlyArray<string>) => Effect.sync(() => traceIds.map((id) => zset(traces, tenantId).get(id))),
    claimDue: (tenantId: string, nowMs: number, limit = 500, leaseMs = defaultLeaseMs) =>
      Effect.sync(() => {
        const open = zset(traces, tenantId)
        const held = zset(claimed, tenantId)
        const lapsed = byScore(held, nowMs, limit)
        const due = byScore(open, nowMs, limit - lapsed.length)
        for (const id of due) open.delete(id)
        for (const id of [...lapsed, ...due]) held.set(id, nowMs + leaseMs)
        if (open.size === 0 && held.size === 0) tenants.delete(tenantId)
        return [...lapsed, ...due]
      }),
    settle: (tenantId: string, traceIds: ReadonlyArray<string>) => Effect.sync(() => traceIds.forEach((id) => zset(claimed, tenantId).delete(id))),
    open: (tenantId: string) => Effect.sync(() => byScore(zset(traces, tenantId), Number.POSITIVE_INFINITY, Number.MAX_SAFE_INTEGER).map((traceId) => ({ traceId, deadlineMs: zset(traces, tenantId).get(traceId) ?? 0 }))),
    tenantsWithOpenTraces: Effect.sync(() => [...tenants])
  }
})
