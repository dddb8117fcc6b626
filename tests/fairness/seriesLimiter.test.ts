import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { RedisConnection } from "../../src/queues/Redis.ts"
import { rememberMs, SeriesLimiter } from "../../src/tenants/SeriesLimiter.ts"
import { deletePrefix, testEnv } from "../support/harness.ts"

// The active-series cap (settings.limits.maxActiveSeries) asks Redis only about the series this process
// has not sent lately: a batch of known series costs no round trip, a new series always goes to Redis.

const limiterWith = (idleSeconds: string) => {
  const env = testEnv({ MPLP_SERIES_IDLE_SECONDS: idleSeconds })
  const layer = SeriesLimiter.Live.pipe(
    Layer.provideMerge(RedisConnection.Live),
    Layer.provideMerge(AppConfig.layer),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
  )
  return { layer, prefix: env.MPLP_QUEUE_PREFIX }
}

const members = Effect.gen(function* () {
  const redis = yield* RedisConnection
  return (yield* Effect.promise(() => redis.client.zrange(redis.keys.tenant("t1", "series"), 0, -1))).sort()
})
const forget = Effect.gen(function* () {
  const redis = yield* RedisConnection
  yield* Effect.promise(() => redis.client.del(redis.keys.tenant("t1", "series")))
})

describe("the active-series cap's round trips (SeriesLimiter)", () => {
  it("remembers for a tenth of the idle time, at most a minute", () => {
    expect(rememberMs(3_600_000)).toBe(60_000)
    expect(rememberMs(2_000)).toBe(200)
  })

  const slow = limiterWith("3600")
  it.live("sends a series once while remembered; new series still go to Redis and meet the cap", () =>
    Effect.gen(function* () {
      const limiter = yield* SeriesLimiter
      expect(yield* limiter.admit("t1", ["a", "b", "a"], 3)).toEqual(new Set())
      expect(yield* members).toEqual(["a", "b"])
      // Redis forgets the set: a batch of the same series asks nothing (the set stays empty) …
      yield* forget
      expect(yield* limiter.admit("t1", ["b", "a"], 3)).toEqual(new Set())
      expect(yield* members).toEqual([])
      // … a new one is asked about, alone, and the cap counts what Redis holds.
      expect(yield* limiter.admit("t1", ["a", "c"], 3)).toEqual(new Set())
      expect(yield* members).toEqual(["c"])
      expect(yield* limiter.admit("t1", ["d", "e", "f"], 3)).toEqual(new Set(["f"]))
      expect(yield* members).toEqual(["c", "d", "e"])
      // A refused series is not remembered: asked again, refused again.
      expect(yield* limiter.admit("t1", ["f", "a"], 3)).toEqual(new Set(["f"]))
      // Another tenant's series of the same name is its own.
      expect(yield* limiter.admit("t2", ["a"], 1)).toEqual(new Set())
    }).pipe(Effect.provide(slow.layer), Effect.ensuring(Effect.promise(() => deletePrefix(slow.prefix)))))

  const fast = limiterWith("1")
  it.live("sends a remembered series again once a tenth of the idle time has passed, so an active series stays in the set", () =>
    Effect.gen(function* () {
      const limiter = yield* SeriesLimiter
      yield* limiter.admit("t1", ["a"], 10)
      yield* forget
      yield* limiter.admit("t1", ["a"], 10)
      expect(yield* members).toEqual([])
      yield* Effect.sleep(`${rememberMs(1000) + 20} millis`)
      yield* limiter.admit("t1", ["a"], 10)
      expect(yield* members).toEqual(["a"])
    }).pipe(Effect.provide(fast.layer), Effect.ensuring(Effect.promise(() => deletePrefix(fast.prefix)))))
})
