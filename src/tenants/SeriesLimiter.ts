import { Context, Effect, Layer } from "effect"
import { AppConfig } from "../config/AppConfig.ts"
import { RedisConnection } from "../queues/Redis.ts"

// A tenant's active series: one sorted set in the tenant's slot, series key → when it last had a point.
// One script per batch (with the batch's distinct series, not its points): members idle longer than
// MPLP_SERIES_IDLE_SECONDS leave first, known series are refreshed, new ones enter while there is room.
// A set costs ~100 bytes per series (10,000 series: ~1 MB), and the key expires with the tenant's last point.
const ADMIT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local n = redis.call('ZCARD', KEYS[1])
local max = tonumber(ARGV[3])
local rejected = {}
for i = 5, #ARGV do
  local s = ARGV[i]
  if redis.call('ZSCORE', KEYS[1], s) or n < max then
    if redis.call('ZADD', KEYS[1], ARGV[1], s) == 1 then n = n + 1 end
  else
    rejected[#rejected + 1] = s
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return rejected`

const makeLimiter = Effect.gen(function* () {
  const redis = yield* RedisConnection
  const { seriesIdleSeconds } = yield* AppConfig
  const idleMs = seriesIdleSeconds * 1000

  /**
   * The series of `seriesKeys` that are new and over the tenant's cap (its points are to be refused).
   * Fails open (admits all) when Redis does not answer: the ingest then fails on its own with 503.
   */
  const admit = (tenantId: string, seriesKeys: Iterable<string>, maxActiveSeries: number) => {
    const distinct = [...new Set(seriesKeys)]
    if (distinct.length === 0 || redis.client.status !== "ready") return Effect.succeed(new Set<string>())
    const now = Date.now()
    return Effect.tryPromise(() =>
      redis.client.eval(ADMIT, 1, redis.keys.tenant(tenantId, "series"), now, now - idleMs, maxActiveSeries, idleMs, ...distinct) as Promise<Array<string>>
    ).pipe(
      Effect.map((rejected) => new Set(rejected)),
      Effect.orElseSucceed(() => new Set<string>())
    )
  }

  /** How many series of the tenant are active now. */
  const active = (tenantId: string) =>
    Effect.tryPromise(() => redis.client.zcount(redis.keys.tenant(tenantId, "series"), Date.now() - idleMs, "+inf"))

  return { admit, active } as const
})

export class SeriesLimiter extends Context.Tag("tenants/SeriesLimiter")<SeriesLimiter, Effect.Effect.Success<typeof makeLimiter>>() {
  static readonly Live = Layer.effect(SeriesLimiter, makeLimiter)
}

export const seriesLimitMessage = (rejectedPoints: number, rejectedSeries: number, maxActiveSeries: number) =>
  `${rejectedPoints} points of ${rejectedSeries} new series refused: the tenant has ${maxActiveSeries} active series (settings.limits.maxActiveSeries)`
