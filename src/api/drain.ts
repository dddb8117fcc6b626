import { HttpServer, HttpServerResponse } from "@effect/platform"
import { Context, Duration, Effect, Layer, Ref } from "effect"

/** Set once the process is shutting down: new requests get 503 + Retry-After, /readyz turns not ready. */
export class Draining extends Context.Tag("api/Draining")<Draining, Ref.Ref<boolean>>() {
  static readonly Live = Layer.effect(Draining, Ref.make(false))
}

export const drainingResponse = HttpServerResponse.unsafeJson(
  { _tag: "ServiceUnavailable", message: "the server is shutting down; retry on another instance", retryAfterSeconds: 1 },
  { status: 503, headers: { "retry-after": "1", connection: "close" } }
)

/**
 * Built after the HTTP server, so its finalizer runs first on shutdown: flip to draining, then give
 * in-flight requests and load balancers (polling /readyz) a grace period before the server closes.
 */
export const DrainOnShutdown = (grace: Duration.DurationInput) =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      yield* HttpServer.HttpServer
      const draining = yield* Draining
      yield* Effect.addFinalizer(() =>
        Ref.set(draining, true).pipe(Effect.zipRight(Effect.logInfo("draining HTTP requests")), Effect.zipRight(Effect.sleep(grace)))
      )
    })
  )
