import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Duration, Effect, Ref } from "effect"
import { Db } from "../../db/Db.ts"
import { RedisConnection } from "../../queues/Redis.ts"
import { Telemetry } from "../../telemetry/Telemetry.ts"
import { MplpApi } from "../Api.ts"
import { Draining } from "../drain.ts"
import { ConsoleAssets, wantsHtml } from "../static.ts"

const probe = <E>(check: Effect.Effect<void, E>) =>
  check.pipe(
    Effect.timeout(Duration.seconds(2)),
    Effect.match({ onFailure: (e) => `down: ${e instanceof Error ? e.message : String(e)}`, onSuccess: () => "up" })
  )

export const HealthLive = HttpApiBuilder.group(MplpApi, "health", (handlers) =>
  Effect.gen(function* () {
    const db = yield* Db
    const redis = yield* RedisConnection
    const telemetry = yield* Telemetry
    const draining = yield* Draining
    const assets = yield* ConsoleAssets
    return handlers
      .handle("healthz", () => Effect.succeed({ status: "ok" }))
      .handleRaw("readyz", () =>
        Effect.gen(function* () {
          const [database, r] = yield* Effect.all([probe(db.ping), probe(redis.ping)], { concurrency: 2 })
          const ready = database === "up" && r === "up" && !(yield* Ref.get(draining))
          return yield* HttpServerResponse.json(
            { status: ready ? "ready" : "not_ready", database, redis: r },
            { status: ready ? 200 : 503 }
          )
        }).pipe(Effect.orDie)
      )
      // The console's metrics page lives at /metrics too: a browser gets the page, a scraper the text.
      .handleRaw("metrics", ({ request }) =>
        wantsHtml(request) ? Effect.succeed(assets.page(request)) : Effect.promise(() => telemetry.prometheus())
      )
  })
)
