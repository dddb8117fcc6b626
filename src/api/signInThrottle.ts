import { HttpServerRequest } from "@effect/platform"
import { Effect } from "effect"
import { AppConfig } from "../config/AppConfig.ts"
import { TooManyRequests } from "../domain/errors.ts"
import { RedisConnection } from "../queues/Redis.ts"
import { makeClientAddress } from "./clientAddress.ts"

// Over budget: the milliseconds left in the window; else 0.
const CHECK = `
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n < tonumber(ARGV[1]) then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then return tonumber(ARGV[2]) end
return ttl`

const FAIL = `
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`

/**
 * Failed sign-ins (a tenant key, the admin token or the metrics token that is presented but wrong),
 * counted per client address in Redis so that every API process sees the same count. After
 * MPLP_AUTH_MAX_FAILURES within MPLP_AUTH_FAILURE_WINDOW_SECONDS (counted from the first), every
 * request of that address that presents credentials gets 429 with Retry-After until the window ends,
 * before its credentials are looked at: a guess made then is not even checked. Other addresses are not
 * affected. Like the quotas, it fails open while Redis is down.
 */
export const makeSignInThrottle = Effect.gen(function* () {
  const redis = yield* RedisConnection
  const config = yield* AppConfig
  const windowMs = config.authFailureWindowSeconds * 1000
  const clientAddress = makeClientAddress(config.trustedProxies)
  const key = (address: string) => redis.keys.global("authfail", address)
  const run = (script: string, address: string, ...args: Array<string>) =>
    redis.client.status !== "ready"
      ? Effect.succeed(0)
      : Effect.tryPromise(() => redis.client.eval(script, 1, key(address), ...args)).pipe(
          Effect.map(Number),
          Effect.orElseSucceed(() => 0)
        )

  /** The requesting client's address (X-Forwarded-For only from a trusted proxy). */
  const addressOf = Effect.map(HttpServerRequest.HttpServerRequest, (request) =>
    clientAddress(request.remoteAddress._tag === "Some" ? request.remoteAddress.value : undefined, request.headers["x-forwarded-for"])
  )

  const check = (address: string): Effect.Effect<void, TooManyRequests> =>
    Effect.flatMap(run(CHECK, address, String(config.authMaxFailures), String(windowMs)), (leftMs) =>
      leftMs > 0
        ? Effect.fail(new TooManyRequests({
            message: `too many failed sign-ins from this address; retry in ${Math.ceil(leftMs / 1000)} s`,
            retryAfterSeconds: Math.ceil(leftMs / 1000)
          }))
        : Effect.void
    )

  const failed = (address: string): Effect.Effect<void> => Effect.asVoid(run(FAIL, address, String(windowMs)))

  return { addressOf, check, failed } as const
})
