import { HttpApiBuilder, HttpServerRequest } from "@effect/platform"
import { Effect } from "effect"
import { AppConfig } from "../../config/AppConfig.ts"
import { BadRequest, messageOf, UnsupportedMediaType } from "../../domain/errors.ts"
import { timeWindow } from "../../domain/limits.ts"
import type { TimeWindow } from "../../domain/limits.ts"
import { IngestQueue } from "../../ingest/IngestQueue.ts"
import { genaiMetricAttributes } from "../../ingest/genai/metrics.ts"
import { sanitizeGenai, sanitizeMessages } from "../../ingest/genai/sanitize.ts"
import { decodeMetrics, decodeTraces } from "../../ingest/otlp/index.ts"
import { Quotas } from "../../tenants/Quotas.ts"
import { seriesCap, SeriesLimiter } from "../seriesCap.ts"
import { TenantStore } from "../../tenants/TenantStore.ts"
import { Telemetry } from "../../telemetry/Telemetry.ts"
import { MplpApi } from "../Api.ts"
import { pointsQuota, quotaPrecheck, requireScope } from "../auth.ts"
import { dbUnavailable, parseJson, readBody } from "../body.ts"
import { otlpResponse } from "../otlpResponse.ts"

const formatOf = (contentType: string | undefined) => {
  const ct = (contentType ?? "").split(";")[0]?.trim().toLowerCase() ?? ""
  if (ct === "application/x-protobuf" || ct === "application/protobuf") return Effect.succeed("protobuf" as const)
  if (ct === "application/json") return Effect.succeed("json" as const)
  return Effect.fail(new UnsupportedMediaType({ message: `OTLP/HTTP takes application/x-protobuf or application/json, not "${ct}"` }))
}

const decodeOrBadRequest = <A>(f: () => A) =>
  Effect.try({ try: f, catch: (e) => new BadRequest({ message: `undecodable OTLP body: ${messageOf(e)}` }) })

export const OtlpLive = HttpApiBuilder.group(MplpApi, "otlp", (handlers) =>
  Effect.gen(function* () {
    const ingest = yield* IngestQueue
    const store = yield* TenantStore
    const quotas = yield* Quotas
    const telemetry = yield* Telemetry
    const { maxBodyBytes, eventMaxAgeSeconds, eventMaxFutureSeconds } = yield* AppConfig
    const chargePoints = pointsQuota(store, quotas)
    const precheck = quotaPrecheck(store, quotas)
    const capSeries = seriesCap(store, yield* SeriesLimiter, telemetry)

    const receive = <R extends { readonly rejected: number; readonly errors: ReadonlyArray<string> }, E, E2 = never>(
      signal: "traces" | "metrics",
      decode: (body: unknown, format: "protobuf" | "json", window: TimeWindow) => R,
      count: (r: R) => number,
      /** Points it refused itself (over the series cap), counted in partialSuccess with the decoder's. */
      submit: (tenantId: string, r: R, receivedAtMs: number) => Effect.Effect<{ rejected: number; message: string } | undefined | void, E>,
      refine: (tenantId: string, r: R) => Effect.Effect<R, E2> = (_, r) => Effect.succeed(r)
    ) =>
      Effect.gen(function* () {
        const p = yield* requireScope("ingest")
        const request = yield* HttpServerRequest.HttpServerRequest
        const format = yield* formatOf(request.headers["content-type"])
        yield* precheck(p.tenantId)
        const raw = yield* readBody(maxBodyBytes)
        const body = format === "json" ? yield* parseJson(raw) : raw
        const window = timeWindow(Date.now(), eventMaxAgeSeconds, eventMaxFutureSeconds)
        const result = yield* Effect.flatMap(decodeOrBadRequest(() => decode(body, format, window)), (r) => refine(p.tenantId, r))
        const n = count(result)
        let rejected = result.rejected
        let errors = result.errors
        if (n > 0) {
          yield* chargePoints(p.tenantId, n)
          const refused = yield* submit(p.tenantId, result, Date.now())
          if (refused) {
            rejected += refused.rejected
            errors = [refused.message, ...errors]
          }
        }
        return otlpResponse(format, signal, rejected, errors)
      })

    return handlers
      .handleRaw("traces", () =>
        receive("traces", decodeTraces, (r) => r.spans.length, (tenantId, r, receivedAtMs) =>
          ingest.submit({ _tag: "spans", tenantId, receivedAtMs, spans: r.spans }).pipe(
            Effect.tap(() => Effect.sync(() => telemetry.spansAccepted.add(r.spans.length))),
            Effect.asVoid
          ),
          // GenAI: contents dropped unless the tenant keeps them, bad token counts ignored; both reported.
          (tenantId, r) => Effect.map(store.getSettings(tenantId).pipe(Effect.catchTag("NotFound", Effect.die)), (settings) => {
            const g = sanitizeGenai(r.spans, settings.genai.storeContent)
            if (g.contentDropped > 0) telemetry.genaiAttributesDropped.add(g.contentDropped, { kind: "content" })
            if (g.tokensDropped > 0) telemetry.genaiAttributesDropped.add(g.tokensDropped, { kind: "tokens" })
            return g.contentDropped === 0 && g.warningCount === 0 ? r : { ...r, spans: g.spans, errors: [...r.errors, ...sanitizeMessages(g)] }
          })
        ).pipe(dbUnavailable)
      )
      .handleRaw("metrics", () =>
        receive("metrics", decodeMetrics, (r) => r.points.length, (tenantId, r, receivedAtMs) =>
          Effect.gen(function* () {
            const { kept, rejected, message } = yield* capSeries(tenantId, r.points)
            if (kept.length > 0) {
              yield* ingest.submit({
                _tag: "metrics",
                tenantId,
                receivedAtMs,
                source: "otlp",
                points: kept.map((pt) => ({ name: pt.name, value: pt.value, timeMs: pt.timeMs, serviceName: pt.serviceName, traceId: null, attributes: genaiMetricAttributes(pt.name, pt.attributes) }))
              })
              telemetry.pointsAccepted.add(kept.length)
            }
            return message === undefined ? undefined : { rejected, message }
          })
        ).pipe(dbUnavailable)
      )
  })
)
