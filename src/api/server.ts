import { HttpApiBuilder, HttpMiddleware, HttpServer, HttpServerRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { SpanStatusCode } from "@opentelemetry/api"
import { Effect, Layer, Ref } from "effect"
import { createServer } from "node:http"
import { AppConfig } from "../config/AppConfig.ts"
import { QueryDbLive } from "../db/QueryDb.ts"
import { ExecutionReader } from "../query/ExecutionReader.ts"
import { LiveFeed } from "../executions/LiveFeed.ts"
import { Telemetry, tracer } from "../telemetry/Telemetry.ts"
import { MplpApi } from "./Api.ts"
import { AdminAuthLive, TenantAuthLive } from "./auth.ts"
import { Draining, drainingResponse } from "./drain.ts"
import { AdminLive } from "./handlers/admin.ts"
import { AlertsLive } from "./handlers/alerts.ts"
import { ExecutionsLive } from "./handlers/executions.ts"
import { GenaiLive } from "./handlers/genai.ts"
import { HealthLive } from "./handlers/health.ts"
import { JobsLive } from "./handlers/jobs.ts"
import { LiveLive } from "./handlers/live.ts"
import { MetricsLive } from "./handlers/metrics.ts"
import { OtlpLive } from "./handlers/otlp.ts"
import { QueryLive } from "./handlers/query.ts"
import { ConsoleAssets, ConsoleRoutes } from "./static.ts"

/** A span and a duration sample per request, through @opentelemetry/api. */
const observe = HttpMiddleware.make((app) =>
  Effect.gen(function* () {
    const telemetry = yield* Telemetry
    const request = yield* HttpServerRequest.HttpServerRequest
    if (yield* Ref.get(yield* Draining)) return drainingResponse
    const started = performance.now()
    const span = tracer().startSpan(`${request.method} ${request.url.split("?")[0] ?? ""}`)
    return yield* app.pipe(
      Effect.tap((response) =>
        Effect.sync(() => {
          span.setAttribute("http.response.status_code", response.status)
          if (response.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR })
          telemetry.requestDuration.record(performance.now() - started, { method: request.method, status: String(response.status) })
        })
      ),
      Effect.ensuring(Effect.sync(() => span.end()))
    )
  })
)

/**
 * The handlers' own statements (the read endpoints, the execution reader) run under
 * MPLP_QUERY_TIMEOUT_MS (src/db/QueryDb.ts); services shared with the pipeline (tenants, quotas) do not.
 */
export const ApiLive = HttpApiBuilder.api(MplpApi).pipe(
  Layer.provide([HealthLive, AdminLive, LiveLive, ExecutionsLive, MetricsLive, OtlpLive, JobsLive, QueryLive, AlertsLive, GenaiLive]),
  Layer.provide([TenantAuthLive, AdminAuthLive, LiveFeed.Live]),
  Layer.provide(ConsoleAssets.Default),
  Layer.provide(Layer.fresh(ExecutionReader.Live)),
  Layer.provide(QueryDbLive)
)

const NodeServer = Layer.unwrapEffect(
  Effect.map(AppConfig, (c) => NodeHttpServer.layer(createServer, { port: c.port, host: c.host }))
)

/** The HTTP server on PORT/HOST, with the OpenAPI document at /openapi.json and the web console at /. */
export const HttpServerLive = HttpApiBuilder.serve(observe).pipe(
  Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
  Layer.provide(ConsoleRoutes.pipe(Layer.provide(ConsoleAssets.Default))),
  Layer.provide(ApiLive),
  HttpServer.withLogAddress,
  Layer.provideMerge(NodeServer)
)
