import { HttpApiBuilder, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Duration, Effect, Option, Ref } from "effect"
import { AppConfig } from "../../config/AppConfig.ts"
import { Db } from "../../db/Db.ts"
import { RedisConnection } from "../../queues/Redis.ts"
import { Telemetry } from "../../telemetry/Telemetry.ts"
import { MplpApi } from "../Api.ts"
import { makeTokenCheck } from "../auth.ts"
import { Draining } from "../drain.ts"
import { ConsoleAssets, wantsHtml } from "../static.ts"
import { messageOf } from "../../domain/errors.ts"

// "up" or "down" only: the probe's error (host names, addresses, driver messages) is for the logs, not for anyone who asks.
const probe = <E>(name: string, check: Effect.Effect<void, E>) =>
  check.pipe(
    Effect.timeout(Duration.seconds(2)),
    Effect.tapError((e) => Effect.logWarning(`readiness: ${name} is down: ${messageOf(e)}`)),
    Effect.match({ onFailure: () => "down", onSuccess: () => "up" })
  )

export const HealthLive = HttpApiBuilder.group(MplpApi, "health", (handlers) =>
  Effect.gen(function* () {
    const db = yield* Db
    const redis = yield* RedisConnection
    const telemetry = yield* Telemetry
    const draining = yield* Draining
    const assets = yield* ConsoleAssets
    const { metricsToken } = yield* AppConfig
    const checkToken = yield* makeTokenCheck("metrics token (MPLP_METRICS_TOKEN, as Authorization: Bearer)")
    /** With MPLP_METRICS_TOKEN set, the Prometheus text is for whoever presents it as a bearer token. */
    const metricsAccess = Option.match(metricsToken, {
      onNone: () => Effect.void,
      onSome: (expected) =>
        Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
          const authorization = request.headers.authorization ?? ""
          return checkToken(expected, /^bearer /i.test(authorization) ? authorization.slice(7).trim() : "")
        })
    })
    return handlers
      .handle("healthz", () => Effect.succeed({ status: "ok" }))
      .handleRaw("readyz", () =>
        Effect.gen(function* () {
          const [database, r] = yield* Effect.all([probe("database", db.ping), probe("redis", redis.ping)], { concurrency: 2 })
          const ready = database === "up" && r === "up" && !(yield* Ref.get(draining))
          return yield* HttpServerResponse.json(
            { status: ready ? "ready" : "not_ready", database, redis: r },
            { status: ready ? 200 : 503 }
          )
        }).pipe(Effect.orDie)
      )
      // The console's metrics page lives at /metrics too: a browser gets the page, a scraper the text (behind MPLP_METRICS_TOKEN when set).
      .handleRaw("metrics", ({ request }) =>
        wantsHtml(request) ? Effect.succeed(assets.page(request)) : Effect.zipRight(metricsAccess, Effect.promise(() => telemetry.prometheus()))
      )
  })
)
