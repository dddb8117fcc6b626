import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { aggOf } from "../../src/aggregation/window.ts"
import { WindowStore } from "../../src/aggregation/WindowStore.ts"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { RedisConnection } from "../../src/queues/Redis.ts"
import { deletePrefix, testEnv } from "../support/harness.ts"

// A batch's partials go to Redis in script calls of up to 500 windows each, and a close pass closes its
// due windows the same way: a backfill's 1,200 windows take three calls each way. Every window must get
// its own partial and its own answer, in order, as the in-memory twin (one window at a time) gives them.

const MIN = 60_000
const T0 = 1_000 * MIN
const WINDOWS = 1_200

const env = testEnv()
const prefix = `${env.MPLP_QUEUE_PREFIX}-ws`
const redisLayer = WindowStore.Live.pipe(
  Layer.provideMerge(RedisConnection.Live),
  Layer.provideMerge(AppConfig.layer),
  Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries({ ...env, MPLP_QUEUE_PREFIX: prefix })))))
)

const series = (i: number) => `m${i % 7}|svc-${i % 13}|op-${i}`
const partialsOf = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, k) => {
    const i = from + k
    const windowStartMs = T0 + (i % 3) * MIN
    return { seriesKey: series(i), windowStartMs, windowEndMs: windowStartMs + MIN, agg: aggOf([i, i + 0.5]), meta: { metricName: `m${i % 7}`, serviceName: `svc-${i % 13}`, operation: `op-${i}`, sizeMs: MIN } }
  })

/** What a user of the store sees: adds (new, redelivered, late), then a close pass over every window. */
const scenario = Effect.gen(function* () {
  const windows = yield* WindowStore
  const tenant = "t-many"
  const first = yield* windows.addPartials(tenant, "b1", partialsOf(0, WINDOWS), T0)
  const redelivered = yield* windows.addPartials(tenant, "b1", partialsOf(0, WINDOWS), T0)
  const second = yield* windows.addPartials(tenant, "b2", partialsOf(600, WINDOWS + 300), T0)
  const due = yield* windows.closeThrough(tenant, T0 + 10 * MIN, Number.NEGATIVE_INFINITY)
  const closed = yield* windows.closeMany(tenant, due)
  const late = yield* windows.addPartials(tenant, "b3", partialsOf(0, 2), T0 + 10 * MIN)
  return {
    first, redelivered, second, late,
    due: due.map((d) => d.member),
    // a hash's fields in name order (Redis keeps no order a user could rely on)
    closed: closed.map((c) => ({
      byBatch: c.names.map((n, i) => [n, JSON.parse(c.partials[i]!)] as const).sort(([a], [b]) => (a < b ? -1 : 1)),
      meta: c.meta === undefined ? undefined : JSON.parse(c.meta)
    }))
  }
})

describe("WindowStore (Redis): many windows per script call", () => {
  it.scopedLive("adds and closes 1,200 windows per batch exactly as the in-memory store does, window by window", () =>
    Effect.gen(function* () {
      yield* Effect.addFinalizer(() => Effect.promise(() => deletePrefix(prefix)))
      const live = yield* scenario.pipe(Effect.provide(redisLayer))
      const twin = yield* scenario.pipe(Effect.provide(WindowStore.Test))
      expect(live.first).toHaveLength(WINDOWS)
      expect(live.first.every((r) => r.added && !r.closed)).toBe(true)
      expect(live.redelivered.every((r) => !r.added && r.existed)).toBe(true)
      expect(live.second.filter((r) => r.existed)).toHaveLength(600)
      expect(live.due).toHaveLength(WINDOWS + 300)
      expect(live.closed.filter((c) => c.byBatch.length === 2)).toHaveLength(600)
      expect(live.late.every((r) => r.closed && r.added)).toBe(true)
      for (const k of Object.keys(live) as Array<keyof typeof live>) expect([k, live[k]]).toEqual([k, twin[k]])
    }))
})
