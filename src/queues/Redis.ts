import { Context, Data, Duration, Effect, Layer, Redacted } from "effect"
import { Redis } from "ioredis"
import type { RedisOptions } from "ioredis"
import { AppConfig } from "../config/AppConfig.ts"
import { messageOf } from "../domain/errors.ts"
import { keyPatterns, redisKeys } from "./keys.ts"
import type { RedisKeys } from "./keys.ts"

export class RedisUnavailable extends Data.TaggedError("RedisUnavailable")<{ readonly message: string }> {}

/** host:port of a Redis URL, without credentials, for messages. */
export const describeRedisUrl = (url: string): string => {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.hostname}:${u.port || "6379"}${u.pathname.length > 1 ? u.pathname : ""}`
  } catch {
    return "(unparseable REDIS_URL)"
  }
}

export interface RedisService {
  /** Commands of the request path: fail fast while Redis is down instead of queueing forever. */
  readonly client: Redis
  /** A new connection for a BullMQ worker or queue (`blocking`: no per-request retry limit, as BullMQ requires). */
  readonly connection: (name: string, blocking: boolean) => Redis
  readonly prefix: string
  /** Builds every key under `prefix` (see keys.ts). */
  readonly keys: RedisKeys
  readonly ping: Effect.Effect<void, RedisUnavailable>
}

export class RedisConnection extends Context.Tag("queues/RedisConnection")<RedisConnection, RedisService>() {
  /** Connects at start; an unreachable Redis stops start-up with one actionable line. */
  static readonly Live = Layer.scoped(
    RedisConnection,
    Effect.gen(function* () {
      const config = yield* AppConfig
      const url = Redacted.value(config.redisUrl)
      const where = describeRedisUrl(url)
      const base: RedisOptions = { lazyConnect: true, connectTimeout: 2_000 }
      const opened: Array<Redis> = []
      const make = (name: string, options: RedisOptions) => {
        const r = new Redis(url, { ...base, ...options, connectionName: `mplp:${name}` })
        // ioredis reconnects by itself; without a listener an 'error' event would crash the process.
        r.on("error", () => {})
        opened.push(r)
        return r
      }
      const client = make("client", { maxRetriesPerRequest: 1, enableOfflineQueue: true, commandTimeout: 2_000 })
      yield* Effect.addFinalizer(() =>
        Effect.forEach(
          opened,
          (r) => Effect.promise(() => r.quit().catch(() => r.disconnect())).pipe(
            Effect.interruptible,
            Effect.timeout(Duration.seconds(2)),
            Effect.catchAll(() => Effect.sync(() => r.disconnect()))
          ),
          { discard: true }
        )
      )
      yield* Effect.tryPromise({
        try: () => client.connect(),
        catch: (cause) =>
          new RedisUnavailable({
            message: `cannot reach Redis at ${where} (${messageOf(cause)}): start one with \`docker compose up -d redis\` or the redis-server package, or point REDIS_URL at one`
          })
      }).pipe(
        Effect.timeoutFail({
          duration: Duration.seconds(5),
          onTimeout: () => new RedisUnavailable({ message: `cannot reach Redis at ${where} (timed out): start one with \`docker compose up -d redis\` or the redis-server package, or point REDIS_URL at one` })
        })
      )
      const ping = Effect.tryPromise({
        try: () => client.ping(),
        catch: (cause) => new RedisUnavailable({ message: `Redis at ${where}: ${messageOf(cause)}` })
      }).pipe(
        Effect.timeoutFail({ duration: Duration.seconds(2), onTimeout: () => new RedisUnavailable({ message: `Redis at ${where}: ping timed out` }) }),
        Effect.asVoid
      )
      return {
        client,
        connection: (name, blocking) =>
          make(name, blocking ? { maxRetriesPerRequest: null, enableOfflineQueue: true } : { maxRetriesPerRequest: 1, enableOfflineQueue: false }),
        prefix: config.queuePrefix,
        keys: redisKeys(config.queuePrefix),
        ping
      }
    })
  )
}

/** Removes every key under a prefix (`{prefix}…`): what a test run or a benchmark leaves behind. */
export const deleteKeysWithPrefix = async (url: string, prefix: string): Promise<void> => {
  const redis = new Redis(url, { lazyConnect: true })
  await redis.connect()
  try {
    for (const pattern of keyPatterns(prefix)) {
      let cursor = "0"
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", pattern, "COUNT", 1000)
        cursor = next
        if (keys.length > 0) await redis.del(...keys)
      } while (cursor !== "0")
    }
  } finally {
    await redis.quit()
  }
}
