import { Effect } from "effect"
import type { AddResult, Compaction, WindowFields, WindowStore } from "./WindowStore.ts"

// WindowStore's in-memory twin (WindowStore.Test): the same answers as the Redis scripts (a batch's
// partial written once, a window closed at birth when a close pass had passed it, compaction into
// __merged, holds and their staleness), without expiry. For stage logic tests; what crosses the wire is
// tested against Redis.

interface WindowHash {
  readonly batches: Map<string, string>
  merged: string | undefined
  /** Compactions so far (__rev). */
  rev: number
  meta: string | undefined
  closed: boolean
  additive: boolean
}

/** `holdSeconds`: MPLP_WINDOW_HOLD_SECONDS (its default). */
export const makeMemoryWindowStore = (holdSeconds = 60) => Effect.sync((): WindowStore["Type"] => {
  const hashes = new Map<string, WindowHash>()
  const open = new Map<string, Map<string, number>>()
  const watermarks = new Map<string, number>()
  const closedThrough = new Map<string, number>()
  /** tenant → job id → the hold's event time and accept time. */
  const holds = new Map<string, Map<string, { readonly eventMs: number; readonly atMs: number }>>()
  const holdsOf = (tenantId: string) => {
    let h = holds.get(tenantId)
    if (h === undefined) holds.set(tenantId, (h = new Map()))
    return h
  }
  const closedThroughOf = (tenantId: string) => closedThrough.get(tenantId) ?? Number.NEGATIVE_INFINITY
  const openTenantSet = new Set<string>()
  const locks = new Set<string>()
  // As the Redis lock: a pass that finds it taken skips, or waits up to `waitMs` for it.
  const memoryLock = <A, E, R>(tenantId: string, body: Effect.Effect<A, E, R>, waitMs = 0): Effect.Effect<A | undefined, E, R> =>
    Effect.suspend(() => {
      if (locks.has(tenantId)) {
        return waitMs <= 0 ? Effect.succeed(undefined) : Effect.zipRight(Effect.sleep(5), memoryLock(tenantId, body, waitMs - 5))
      }
      locks.add(tenantId)
      return body.pipe(Effect.ensuring(Effect.sync(() => locks.delete(tenantId))))
    })
  const hashKey = (tenantId: string, seriesKey: string, startMs: number) => `${tenantId}|${seriesKey}|${startMs}`
  const member = (seriesKey: string, startMs: number) => `${startMs}|${seriesKey}`
  const openOf = (tenantId: string) => {
    let z = open.get(tenantId)
    if (z === undefined) open.set(tenantId, (z = new Map()))
    return z
  }
  const hashOf = (key: string) => {
    let h = hashes.get(key)
    if (h === undefined) hashes.set(key, (h = { batches: new Map(), merged: undefined, rev: 0, meta: undefined, closed: false, additive: false }))
    return h
  }
  const fields = (h: WindowHash | undefined): WindowFields => {
    const partials: Array<string> = h?.merged === undefined ? [] : [h.merged]
    const names: Array<string> = []
    for (const [name, v] of h?.batches ?? []) {
      if (v === "") continue
      partials.push(v)
      names.push(name)
    }
    return { partials, names, meta: h?.meta, rev: String(h?.rev ?? 0) }
  }

  const addPartials = (
    tenantId: string,
    sourceJobId: string,
    partials: ReadonlyArray<{ seriesKey: string; windowStartMs: number; windowEndMs: number; agg: unknown; meta: unknown }>,
    maxEventTimeMs: number
  ) =>
    Effect.sync(() => {
      openTenantSet.add(tenantId)
      const results = partials.map((x): AddResult => {
        const h = hashOf(hashKey(tenantId, x.seriesKey, x.windowStartMs))
        const existed = h.meta !== undefined
        if (!existed) h.meta = JSON.stringify(x.meta)
        if (!existed && x.windowEndMs <= closedThroughOf(tenantId)) h.closed = h.additive = true
        const added = !h.batches.has(sourceJobId)
        if (added) h.batches.set(sourceJobId, JSON.stringify(x.agg))
        if (!h.closed) openOf(tenantId).set(member(x.seriesKey, x.windowStartMs), x.windowEndMs)
        return { closed: h.closed, added, existed, additive: h.closed && h.additive }
      })
      holdsOf(tenantId).delete(sourceJobId)
      watermarks.set(tenantId, Math.max(watermarks.get(tenantId) ?? Number.NEGATIVE_INFINITY, maxEventTimeMs))
      return results
    })

  const advanceWatermark = (tenantId: string, eventTimeMs: number) =>
    Effect.sync(() => {
      const wm = Math.max(watermarks.get(tenantId) ?? Number.NEGATIVE_INFINITY, eventTimeMs)
      watermarks.set(tenantId, wm)
      return wm
    })

  const split = (m: string) => {
    const i = m.indexOf("|")
    return { windowStartMs: Number(m.slice(0, i)), seriesKey: m.slice(i + 1), member: m }
  }

  const closeOne = (tenantId: string, seriesKey: string, windowStartMs: number) => {
    const h = hashOf(hashKey(tenantId, seriesKey, windowStartMs))
    h.closed = true
    return fields(h)
  }

  return {
    addPartials,
    advanceWatermark,
    closeInputs: (tenantId: string, nowMs: number) =>
      Effect.sync(() => {
        const h = holdsOf(tenantId)
        let heldFromMs = Number.POSITIVE_INFINITY
        for (const [jobId, { eventMs, atMs }] of h) {
          if (atMs <= nowMs - holdSeconds * 1000) h.delete(jobId)
          else heldFromMs = Math.min(heldFromMs, eventMs)
        }
        return { maxEventTimeMs: watermarks.get(tenantId) ?? Number.NEGATIVE_INFINITY, heldFromMs }
      }),
    hold: (tenantId: string, jobId: string, earliestEventMs: number, acceptedAtMs: number) =>
      Effect.sync(() => void holdsOf(tenantId).set(jobId, { eventMs: Math.max(earliestEventMs, closedThroughOf(tenantId)), atMs: acceptedAtMs })),
    closeThrough: (tenantId: string, cutoffMs: number, closedThroughMs: number, limit = 5000) =>
      Effect.sync(() => {
        closedThrough.set(tenantId, Math.max(closedThroughOf(tenantId), closedThroughMs))
        return [...openOf(tenantId)].filter(([, end]) => end <= cutoffMs).sort(([a, x], [b, y]) => x - y || (a < b ? -1 : 1)).slice(0, limit).map(([m]) => split(m))
      }),
    closeMany: (tenantId: string, windows: ReadonlyArray<{ seriesKey: string; windowStartMs: number }>) =>
      Effect.sync(() => windows.map((w) => closeOne(tenantId, w.seriesKey, w.windowStartMs))),
    compact: (tenantId: string, windows: ReadonlyArray<Compaction>) =>
      Effect.sync(() => {
        for (const w of windows) {
          const h = hashes.get(hashKey(tenantId, w.seriesKey, w.windowStartMs))
          if (h === undefined || w.names.length === 0 || String(h.rev) !== w.rev) continue
          for (const n of w.names) h.batches.set(n, "")
          h.merged = JSON.stringify(w.merged)
          h.rev++
        }
      }),
    read: (tenantId: string, seriesKey: string, windowStartMs: number) => Effect.sync(() => fields(hashes.get(hashKey(tenantId, seriesKey, windowStartMs)))),
    readMany: (tenantId: string, windows: ReadonlyArray<{ seriesKey: string; windowStartMs: number }>) =>
      Effect.sync(() => windows.map((w) => fields(hashes.get(hashKey(tenantId, w.seriesKey, w.windowStartMs))))),
    forgetClosed: (tenantId: string, members: ReadonlyArray<string>) => Effect.sync(() => members.forEach((m) => openOf(tenantId).delete(m))),
    openTenants: Effect.sync(() => [...openTenantSet]),
    forgetTenantIfIdle: (tenantId: string) => Effect.sync(() => void (openOf(tenantId).size === 0 && openTenantSet.delete(tenantId))),
    dropTenant: (tenantId: string) =>
      Effect.sync(() => {
        for (const k of hashes.keys()) if (k.startsWith(`${tenantId}|`)) hashes.delete(k)
        open.delete(tenantId)
        watermarks.delete(tenantId)
        closedThrough.delete(tenantId)
        holds.delete(tenantId)
        openTenantSet.delete(tenantId)
      }),
    withTenantLock: memoryLock
  }
})
