import { Context, Effect, Layer } from "effect"
import { TooManyRequests } from "../domain/errors.ts"
import { RedisConnection } from "../queues/Redis.ts"

// One-second windows per tenant, shared by every API process through Redis. The script refuses
// without counting the refused points, so a tenant over its points quota can retry the same batch;
// it remembers the smallest body (Content-Length) it refused for points in the second (KEYS[4]), so
// that the precheck refuses that second's bodies at least as large before they are read (a tenant far
// over its quota must not make the API parse every body it then refuses: that time is every other
// tenant's). A smaller body is still read: it may fit.
// A body larger than the whole bytes quota is admitted into an empty second (else it never could be).
const SCRIPT = `
if ARGV[1] ~= '' then
  local r = redis.call('INCR', KEYS[1])
  if r == 1 then redis.call('PEXPIRE', KEYS[1], 2000) end
  if r > tonumber(ARGV[1]) then return 1 end
end
local n = tonumber(ARGV[3])
if n > 0 then
  local p = redis.call('INCRBY', KEYS[2], n)
  if p == n then redis.call('PEXPIRE', KEYS[2], 2000) end
  if p > tonumber(ARGV[2]) then
    redis.call('DECRBY', KEYS[2], n)
    local len = tonumber(ARGV[5])
    local m = tonumber(redis.call('GET', KEYS[4]) or '0')
    if len > 0 and (m == 0 or len < m) then redis.call('SET', KEYS[4], len, 'PX', 2000) end
    return 2
  end
end
local b = tonumber(ARGV[5])
if b > 0 then
  local t = redis.call('INCRBY', KEYS[3], b)
  if t == b then redis.call('PEXPIRE', KEYS[3], 2000) end
  if t > tonumber(ARGV[4]) and t > b then
    redis.call('DECRBY', KEYS[3], b)
    if n > 0 then redis.call('DECRBY', KEYS[2], n) end
    return 3
  end
end
return 0`

export interface QuotaLimits {
  readonly requestsPerSecond: number
  readonly pointsPerSecond: number
  readonly bytesPerSecond: number
}

const makeQuotas = Effect.gen(function* () {
  const redis = yield* RedisConnection
  const key = (tenantId: string, sec: number, kind: string) => redis.keys.tenant(tenantId, "quota", sec, kind)

  /**
   * Counts a request (when `countRequest`) and `points` data points against this second's quota.
   * Fails open when Redis does not answer (at once while it is disconnected, rather than waiting for
   * ioredis to reconnect): ingestion then fails on its own with 503, reads go on.
   */
  const charge = (tenantId: string, limits: QuotaLimits, points: number, countRequest: boolean, bytes = 0) => {
    if (redis.client.status !== "ready") return Effect.void
    const now = Date.now()
    const sec = Math.floor(now / 1000)
    const retryAfterSeconds = Math.max(1, Math.ceil((1000 - (now % 1000)) / 1000))
    return Effect.tryPromise(() =>
      redis.client.eval(
        SCRIPT, 4,
        key(tenantId, sec, "r"),
        key(tenantId, sec, "p"),
        key(tenantId, sec, "b"),
        key(tenantId, sec, "pr"),
        countRequest ? String(limits.requestsPerSecond) : "",
        String(limits.pointsPerSecond),
        String(points),
        String(limits.bytesPerSecond),
        String(bytes)
      )
    ).pipe(
      Effect.catchAll(() => Effect.succeed(0)),
      Effect.flatMap((r) =>
        Number(r) === 1
          ? Effect.fail(new TooManyRequests({ message: `tenant ${tenantId} is over its quota of ${limits.requestsPerSecond} requests per second`, retryAfterSeconds }))
          : Number(r) === 2
          ? Effect.fail(new TooManyRequests({ message: `tenant ${tenantId} is over its quota of ${limits.pointsPerSecond} points per second`, retryAfterSeconds }))
          : Number(r) === 3
          ? Effect.fail(new TooManyRequests({ message: `tenant ${tenantId} is over its quota of ${limits.bytesPerSecond} request bytes per second (settings.quotas.bytesPerSecond)`, retryAfterSeconds }))
          : Effect.void
      )
    )
  }
  /**
   * Refuses at once, before the body is read, a request that `charge` would (almost surely) refuse:
   * the tenant's points of this second are used up, or a body no smaller than `bytes` (its
   * Content-Length) was refused for points in this second (its points cannot have found room since),
   * or `bytes` would overflow this second's bytes. A tenant sending far over its quota then costs a
   * lookup per request, not a parse.
   */
  const precheck = (tenantId: string, limits: QuotaLimits, bytes = 0) => {
    if (redis.client.status !== "ready") return Effect.void
    const now = Date.now()
    const sec = Math.floor(now / 1000)
    const retryAfterSeconds = Math.max(1, Math.ceil((1000 - (now % 1000)) / 1000))
    return Effect.tryPromise(() => redis.client.mget(key(tenantId, sec, "p"), key(tenantId, sec, "b"), key(tenantId, sec, "pr"))).pipe(
      Effect.catchAll(() => Effect.succeed([null, null, null])),
      Effect.flatMap(([p, b, pr]) =>
        Number(p ?? 0) >= limits.pointsPerSecond || (pr != null && bytes > 0 && bytes >= Number(pr))
          ? Effect.fail(new TooManyRequests({ message: `tenant ${tenantId} is over its quota of ${limits.pointsPerSecond} points per second`, retryAfterSeconds }))
          : Number(b ?? 0) >= limits.bytesPerSecond || (Number(b ?? 0) > 0 && Number(b) + bytes > limits.bytesPerSecond)
          ? Effect.fail(new TooManyRequests({ message: `tenant ${tenantId} is over its quota of ${limits.bytesPerSecond} request bytes per second (settings.quotas.bytesPerSecond)`, retryAfterSeconds }))
          : Effect.void
      )
    )
  }
  return { charge, precheck } as const
})

export class Quotas extends Context.Tag("tenants/Quotas")<Quotas, Effect.Effect.Success<typeof makeQuotas>>() {
  static readonly Live = Layer.effect(Quotas, makeQuotas)
}
