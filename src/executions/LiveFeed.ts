import { Context, Effect, Layer, Stream } from "effect"
import type { LiveChange } from "../domain/liveViews.ts"
import { RedisConnection } from "../queues/Redis.ts"

// A tenant's running executions' changes, across processes: the trace actors (in the ingest stage's
// process) append to a Redis stream per tenant, the API (anywhere) reads it for the live view.
//   {P:t:<tenant>}:live  stream (in the tenant's slot) of { k: kind, c: LiveChange JSON }, trimmed to about LIVE_KEEP entries and
//                       dropped LIVE_TTL_SECONDS after its last change, so an idle tenant costs nothing.
// A stream id is the SSE event id: Last-Event-ID resumes right after it.

export const LIVE_KEEP = 500
export const LIVE_TTL_SECONDS = 3600
/** How long one read waits for news before the reader sends a keep-alive comment. */
const BLOCK_MS = 5_000

export interface LiveEntry {
  readonly id: string
  /** The change's kind (start, update, finish, timeout): the SSE event name. */
  readonly kind: string
  /** The LiveChange as JSON. */
  readonly change: string
}

/** Stream ids as Redis makes them: `<ms>-<seq>`. */
export const isStreamId = (s: string) => /^\d{1,20}-\d{1,20}$/.test(s)

const makeLiveFeed = Effect.gen(function* () {
  const redis = yield* RedisConnection
  const key = (tenantId: string) => redis.keys.tenant(tenantId, "live")

  const publish = (tenantId: string, change: LiveChange) =>
    Effect.tryPromise(() =>
      redis.client.multi()
        .xadd(key(tenantId), "MAXLEN", "~", String(LIVE_KEEP), "*", "k", change.kind, "c", JSON.stringify(change))
        .expire(key(tenantId), LIVE_TTL_SECONDS)
        .exec()
    ).pipe(Effect.asVoid)

  /** The newest id of the tenant's stream ("0-0" when it has none): a reader without Last-Event-ID starts after it. */
  const head = (tenantId: string) =>
    Effect.tryPromise(() => redis.client.xrevrange(key(tenantId), "+", "-", "COUNT", 1)).pipe(
      Effect.map((rows) => rows[0]?.[0] ?? "0-0")
    )

  /**
   * The tenant's changes after `afterId`, as they come; an empty chunk after each quiet BLOCK_MS (for a
   * keep-alive). Each reader blocks on a connection of its own, closed when the reader goes away.
   */
  const follow = (tenantId: string, afterId: string): Stream.Stream<ReadonlyArray<LiveEntry>, Error> =>
    Stream.unwrapScoped(
      Effect.gen(function* () {
        const conn = yield* Effect.acquireRelease(
          Effect.sync(() => {
            return redis.reader(`live:${tenantId}`, BLOCK_MS + 5_000)
          }),
          (c) => Effect.sync(() => c.disconnect())
        )
        let last = afterId
        const read = Effect.tryPromise({
          try: () => conn.xread("COUNT", 200, "BLOCK", BLOCK_MS, "STREAMS", key(tenantId), last),
          catch: (e) => (e instanceof Error ? e : new Error(String(e)))
        }).pipe(
          Effect.map((res): ReadonlyArray<LiveEntry> => {
            const entries = (res?.[0]?.[1] ?? []).map(([id, fields]) => ({ id, kind: fields[1] ?? "update", change: fields[3] ?? "{}" }))
            const newest = entries.at(-1)
            if (newest !== undefined) last = newest.id
            return entries
          })
        )
        return Stream.repeatEffect(read)
      })
    )

  return { publish, head, follow } as const
})

export class LiveFeed extends Context.Tag("executions/LiveFeed")<LiveFeed, Effect.Effect.Success<typeof makeLiveFeed>>() {
  static readonly Live = Layer.effect(LiveFeed, makeLiveFeed)
}
