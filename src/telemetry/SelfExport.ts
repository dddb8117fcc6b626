import { Effect, Layer, Option, Runtime } from "effect"
import { AppConfig } from "../config/AppConfig.ts"
import { timeWindow } from "../domain/limits.ts"
import { IngestQueue } from "../ingest/IngestQueue.ts"
import { normalizeMetrics } from "../ingest/otlp/normalizeMetrics.ts"
import { normalizeTraces } from "../ingest/otlp/normalize.ts"
import { TenantStore } from "../tenants/TenantStore.ts"
import { Telemetry } from "./Telemetry.ts"

/**
 * MPLP_SELF_TENANT: the service's own spans and metrics go into that tenant through the ingest path a
 * client's OTLP takes (the same normalisers and bounds as POST /v1/traces and /v1/metrics, the ingest
 * queue, the ingest stage), straight into the queue rather than over HTTP: every process has Redis, not
 * every process serves the API, and it needs no API key.
 *
 * The guard against tracing without end: the enqueue runs with the tracer off, and the stages run the
 * jobs of the self tenant untraced (src/queues/Queues.ts), so ingesting the service's spans makes none.
 */
const make = (tenantId: string) =>
  Effect.gen(function* () {
    const { selfExport } = yield* Telemetry
    const ingest = yield* IngestQueue
    const store = yield* TenantStore
    const { eventMaxAgeSeconds, eventMaxFutureSeconds } = yield* AppConfig
    const run = Runtime.runPromise(yield* Effect.runtime<never>())
    const window = () => timeWindow(Date.now(), eventMaxAgeSeconds, eventMaxFutureSeconds)
    // Over the backlog bound the submission fails and the batch is dropped: the service's own telemetry
    // never adds to an overloaded queue. A tenant that does not exist (yet) gets nothing: its jobs would
    // only fail in the ingest stage and fill the dead letters. (Settings are cached: no query per batch.)
    let lastWarningMs = 0
    const missing = () =>
      Date.now() - lastWarningMs < 60_000
        ? Effect.void
        : Effect.sync(() => (lastWarningMs = Date.now())).pipe(Effect.zipRight(Effect.logWarning(`MPLP_SELF_TENANT: tenant ${tenantId} does not exist; the service's own telemetry is dropped`)))
    const submit = (job: Parameters<typeof ingest.submit>[0]) =>
      run(
        store.getSettings(tenantId).pipe(
          Effect.matchEffect({
            onFailure: (e) => (e._tag === "NotFound" ? missing() : Effect.fail(e)),
            onSuccess: () => Effect.asVoid(ingest.submit(job))
          }),
          Effect.withTracerEnabled(false)
        )
      )

    selfExport.traces = (request) => {
      const { spans } = normalizeTraces(request, undefined, window())
      return spans.length === 0 ? Promise.resolve() : submit({ _tag: "spans", tenantId, receivedAtMs: Date.now(), spans })
    }
    selfExport.metrics = (request) => {
      const { points } = normalizeMetrics(request, undefined, window())
      if (points.length === 0) return Promise.resolve()
      return submit({
        _tag: "metrics", tenantId, receivedAtMs: Date.now(), source: "otlp",
        points: points.map((p) => ({ name: p.name, value: p.value, timeMs: p.timeMs, serviceName: p.serviceName, traceId: null, attributes: p.attributes }))
      })
    }
    yield* Effect.addFinalizer(() =>
      Effect.promise(() => selfExport.flush()).pipe(
        Effect.ensuring(Effect.sync(() => {
          selfExport.traces = undefined
          selfExport.metrics = undefined
        }))
      )
    )
  })

export const SelfExport = {
  /** Nothing unless MPLP_SELF_TENANT is set. */
  Live: Layer.unwrapEffect(
    Effect.map(AppConfig, (config) =>
      Option.match(config.selfTenant, {
        onNone: () => Layer.empty,
        onSome: (tenantId) => Layer.scopedDiscard(make(tenantId)).pipe(Layer.provide(IngestQueue.Live))
      })
    )
  )
}
