import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { AppConfig } from "../../config/AppConfig.ts"
import { genaiPointIssues } from "../../ingest/genai/nativeIssues.ts"
import { metricTimes, MetricsRequest, timeIssues } from "../../domain/ingest.ts"
import { timeWindow } from "../../domain/limits.ts"
import { IngestQueue } from "../../ingest/IngestQueue.ts"
import { pointsFromRequest } from "../../ingest/native.ts"
import { Quotas } from "../../tenants/Quotas.ts"
import { BadRequest } from "../../domain/errors.ts"
import { seriesCap, SeriesLimiter } from "../seriesCap.ts"
import { TenantStore } from "../../tenants/TenantStore.ts"
import { Telemetry } from "../../telemetry/Telemetry.ts"
import { MplpApi } from "../Api.ts"
import { pointsQuota, quotaPrecheck, requireScope } from "../auth.ts"
import { dbUnavailable, readJson, rejectIssues } from "../body.ts"

export const MetricsLive = HttpApiBuilder.group(MplpApi, "metrics", (handlers) =>
  Effect.gen(function* () {
    const ingest = yield* IngestQueue
    const store = yield* TenantStore
    const quotas = yield* Quotas
    const telemetry = yield* Telemetry
    const { maxBodyBytes, eventMaxAgeSeconds, eventMaxFutureSeconds } = yield* AppConfig
    const chargePoints = pointsQuota(store, quotas)
    const precheck = quotaPrecheck(store, quotas)
    const capSeries = seriesCap(store, yield* SeriesLimiter, telemetry)
    return handlers.handleRaw("ingest", ({ headers }) =>
      Effect.gen(function* () {
        const p = yield* requireScope("ingest")
        yield* precheck(p.tenantId)
        const body = yield* readJson(MetricsRequest, maxBodyBytes)
        yield* rejectIssues(timeIssues(timeWindow(Date.now(), eventMaxAgeSeconds, eventMaxFutureSeconds), metricTimes(body)))
        yield* rejectIssues(genaiPointIssues(body.points))
        yield* chargePoints(p.tenantId, body.points.length)
        return yield* ingest.idempotent(p.tenantId, headers["idempotency-key"], (jobId) =>
          Effect.gen(function* () {
            const receivedAtMs = Date.now()
            const { kept: points, rejected, message } = yield* capSeries(p.tenantId, pointsFromRequest(body, receivedAtMs))
            if (points.length === 0) return yield* new BadRequest({ message: `points: ${message ?? "none accepted"}` })
            const id = yield* ingest.submit({ _tag: "metrics", tenantId: p.tenantId, receivedAtMs, source: "native", points }, jobId === undefined ? {} : { jobId })
            telemetry.pointsAccepted.add(points.length)
            return { accepted: points.length, jobId: id, ...(message === undefined ? {} : { rejected, message }) }
          })
        )
      }).pipe(dbUnavailable)
    )
  })
)
