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

/** Series this process remembers having sent, over all tenants: past it, it forgets them all (and sends them again). */
const REMEMBERED_MAX = 200_000

/**
 * How long a series this process sent (and Redis admitted) is not sent again: a tenth of the idle time,
 * at most a minute. Its score in the set is then at most that old while it has points, so an active
 * series never idles out, and one that stops leaves the set within a tenth of the idle time of when it should.
 */
export const rememberMs = (idleMs: number) => Math.min(idleMs / 10, 60_000)

const makeLimiter = Effect.gen(function* () {
  const redis = yield* RedisConnection
  const { seriesIdleSeconds } = yield* AppConfig
  const idleMs = seriesIdleSeconds * 1000
  const remember = rememberMs(idleMs)
  // Sent as EVALSHA (the script's text once per connection; ioredis reloads it on NOSCRIPT).
  const scripted = redis.client as unknown as { mplpSeriesAdmit: (key: string, ...args: Array<string | number>) => Promise<Array<string>> }
  redis.client.defineCommand("mplpSeriesAdmit", { numberOfKeys: 1, lua: ADMIT })
  // Tenant → series → when this process last sent it and Redis admitted it. A batch's series are
  // mostly the last batch's: most batches then ask Redis nothing (a GenAI batch has ~14 more series
  // than its spans' RED ones; measured on a TimescaleDB server, the script was 0.4 µs of service CPU
  // per GenAI span, besides its Redis time). New series always go to Redis, so the cap holds as before.
  const sent = new Map<string, Map<string, number>>()
  let remembered = 0

  /**
   * The series of `seriesKeys` that are new and over the tenant's cap (its points are to be refused).
   * Fails open (admits all) when Redis does not answer: the ingest then fails on its own with 503.
   */
  const admit = (tenantId: string, seriesKeys: Iterable<string>, maxActiveSeries: number) => {
    const now = Date.now()
    const mine = sent.get(tenantId)
    const ask: Array<string> = []
    for (const s of new Set(seriesKeys)) {
      const at = mine?.get(s)
      if (at === undefined || now - at >= remember) ask.push(s)
    }
    if (ask.length === 0 || redis.client.status !== "ready") return Effect.succeed(new Set<string>())
    return Effect.tryPromise(() =>
      scripted.mplpSeriesAdmit(redis.keys.tenant(tenantId, "series"), now, now - idleMs, maxActiveSeries, idleMs, ...ask)
    ).pipe(
      Effect.map((rejected) => {
        const refused = new Set(rejected)
        if (remembered + ask.length > REMEMBERED_MAX) {
          sent.clear()
          remembered = 0
        }
        let m = sent.get(tenantId)
        if (m === undefined) sent.set(tenantId, (m = new Map()))
        for (const s of ask) {
          if (refused.has(s)) continue
          if (!m.has(s)) remembered++
          m.set(s, now)
        }
        return refused
      }),
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
