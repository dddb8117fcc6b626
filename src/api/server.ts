import { HttpApiBuilder, HttpMiddleware, HttpServer, HttpServerRequest } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer, Ref } from "effect"
import { createServer } from "node:http"
import { AppConfig } from "../config/AppConfig.ts"
import { QueryDbLive } from "../db/QueryDb.ts"
import { ReadDb } from "../db/ReadDb.ts"
import { ExecutionReader } from "../query/ExecutionReader.ts"
import { LiveFeed } from "../executions/LiveFeed.ts"
import { Telemetry } from "../telemetry/Telemetry.ts"
import { MplpApi } from "./Api.ts"
import { routeOf } from "./routeOf.ts"
import { DecodeErrorsLive } from "./decodeErrors.ts"
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
import { explainUnmatched } from "./unmatched.ts"

/**
 * A duration sample per request. The request's span is @effect/platform's (one per request once a tracer
 * is installed, a child of the caller's `traceparent` when it sends one), named by its route (src/api/routeOf.ts).
 */
const observe = HttpMiddleware.make((app) =>
  Effect.gen(function* () {
    const telemetry = yield* Telemetry
    const request = yield* HttpServerRequest.HttpServerRequest
    if (yield* Ref.get(yield* Draining)) return drainingResponse
    const started = performance.now()
    return yield* app.pipe(
      Effect.tap((response) =>
        Effect.sync(() => telemetry.requestDuration.record(performance.now() - started, { method: request.method, status: String(response.status) }))
      )
    )
  })
)

/**
 * The handlers' own statements (the read endpoints, the execution reader) run under
 * MPLP_QUERY_TIMEOUT_MS (src/db/QueryDb.ts); services shared with the pipeline (tenants, quotas) do not.
 * The read-only query endpoints take `ReadDb` (DATABASE_READ_URL's replica when set, src/db/ReadDb.ts);
 * the execution reader, alert acknowledgement and everything that writes take `Db`, the primary.
 */
export const ApiLive = HttpApiBuilder.api(MplpApi).pipe(
  Layer.provide([HealthLive, AdminLive, LiveLive, ExecutionsLive, MetricsLive, OtlpLive, JobsLive, QueryLive, AlertsLive, GenaiLive]),
  Layer.provide([TenantAuthLive, AdminAuthLive, LiveFeed.Live]),
  Layer.provide(ConsoleAssets.Default),
  Layer.provide([Layer.fresh(ExecutionReader.Live), ReadDb.Live]),
  Layer.provide(QueryDbLive)
)

const NodeServer = Layer.unwrapEffect(
  Effect.map(AppConfig, (c) => NodeHttpServer.layer(createServer, { port: c.port, host: c.host }))
)

/** The HTTP server on PORT/HOST, with the OpenAPI document at /openapi.json and the web console at /. */
export const HttpServerLive = HttpApiBuilder.serve((app) => observe(explainUnmatched(app))).pipe(
  Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
  Layer.provide(DecodeErrorsLive),
  Layer.provide(ConsoleRoutes.pipe(Layer.provide(ConsoleAssets.Default))),
  Layer.provide(ApiLive),
  HttpMiddleware.withSpanNameGenerator((request) => routeOf(request.method, request.url)),
  // Probes and scrapes every few seconds would be most of the service's own traces, and say nothing.
  HttpMiddleware.withTracerDisabledForUrls(["/healthz", "/readyz", "/metrics"]),
  HttpServer.withLogAddress,
  Layer.provideMerge(NodeServer)
)
