import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Duration, Effect, Ref, Schedule, Stream } from "effect"
import { BadRequest, ServiceUnavailable } from "../../domain/errors.ts"
import { isStreamId, LiveFeed } from "../../executions/LiveFeed.ts"
import type { LiveEntry } from "../../executions/LiveFeed.ts"
import { MplpApi } from "../Api.ts"
import { requireScope } from "../auth.ts"
import { withRetryAfter } from "../body.ts"
import { Draining } from "../drain.ts"

/** SSE frames: each change with its stream id (for Last-Event-ID) and kind; a comment when quiet, so proxies keep the connection. */
const frames = (entries: ReadonlyArray<LiveEntry>) =>
  entries.length === 0 ? ": keep-alive\n\n" : entries.map((e) => `id: ${e.id}\nevent: ${e.kind}\ndata: ${e.change}\n\n`).join("")

const redisDown = new ServiceUnavailable({ message: "the live view's store (Redis) is not answering; retry later", retryAfterSeconds: 2 })

export const LiveLive = HttpApiBuilder.group(MplpApi, "live", (handlers) =>
  Effect.gen(function* () {
    const feed = yield* LiveFeed
    const draining = yield* Draining
    // A shutting-down process ends its streams, so the server can close and clients reconnect elsewhere.
    const shuttingDown = Ref.get(draining).pipe(Effect.repeat({ until: (d) => d, schedule: Schedule.spaced(Duration.millis(200)) }))
    return handlers.handleRaw("live", ({ headers }) =>
      Effect.gen(function* () {
        const p = yield* requireScope("query")
        const lastEventId = headers["last-event-id"]?.trim()
        if (lastEventId !== undefined && lastEventId !== "" && !isStreamId(lastEventId)) {
          const message = "Last-Event-ID must be the id of an event this stream sent (<ms>-<n>)"
          return yield* new BadRequest({ message, issues: [{ path: "Last-Event-ID", message }] })
        }
        const after = lastEventId !== undefined && lastEventId !== ""
          ? lastEventId
          : yield* feed.head(p.tenantId).pipe(Effect.mapError(() => redisDown), Effect.tapError((e) => withRetryAfter(e.retryAfterSeconds)))
        const body = Stream.make("retry: 2000\n: connected\n\n").pipe(
          Stream.concat(Stream.map(feed.follow(p.tenantId, after), frames)),
          Stream.catchAll((e) => Stream.fromEffect(Effect.as(Effect.logWarning(`live view ended: ${e.message}`), ": reconnect\n\n"))),
          Stream.interruptWhen(shuttingDown),
          Stream.encodeText
        )
        return HttpServerResponse.stream(body, {
          contentType: "text/event-stream",
          headers: { "cache-control": "no-cache, no-transform", "x-accel-buffering": "no" }
        })
      })
    )
  })
)
