import { HttpApiBuilder } from "@effect/platform"
import { Effect, Option } from "effect"
import { AppConfig } from "../../config/AppConfig.ts"
import { BadRequest, messageOf, NotFound } from "../../domain/errors.ts"
import { JobRequest, metricTimes, MetricsRequest, timeIssues } from "../../domain/ingest.ts"
import type { IngestJob } from "../../domain/jobs.ts"
import { timeWindow } from "../../domain/limits.ts"
import type { TimeWindow } from "../../domain/limits.ts"
import { IngestQueue } from "../../ingest/IngestQueue.ts"
import { pointsFromRequest } from "../../ingest/native.ts"
import { decodeMetrics, decodeTraces } from "../../ingest/otlp/index.ts"
import { Quotas } from "../../tenants/Quotas.ts"
import { TenantStore } from "../../tenants/TenantStore.ts"
import { MplpApi } from "../Api.ts"
import { pointsQuota, requireScope } from "../auth.ts"
import { dbUnavailable, decodeWith, readJson, rejectIssues } from "../body.ts"
import { idText } from "../../domain/issues.ts"

const otlp = <A>(f: () => A) =>
  Effect.try({ try: f, catch: (e) => new BadRequest({ message: `invalid payload: ${messageOf(e)}` }) })

/** A job request's payload as the ingest job its kind names, and the number of data points in it. */
const toIngestJob = (tenantId: string, req: typeof JobRequest.Type, receivedAtMs: number, window: TimeWindow) =>
  Effect.gen(function* () {
    switch (req.kind) {
      case "metrics": {
        const body = yield* decodeWith(MetricsRequest, req.payload, "payload")
        yield* rejectIssues(timeIssues(window, metricTimes(body, "payload.")), "payload")
        const points = pointsFromRequest(body, receivedAtMs)
        return { points: points.length, job: { _tag: "metrics", tenantId, receivedAtMs, source: "native", points } satisfies IngestJob }
      }
      case "otlp-traces": {
        const r = yield* otlp(() => decodeTraces(req.payload, "json", window))
        if (r.spans.length === 0) return yield* new BadRequest({ message: `payload has no valid spans${r.errors.length > 0 ? `: ${r.errors.slice(0, 5).join("; ")}` : ""}` })
        return { points: r.spans.length, job: { _tag: "spans", tenantId, receivedAtMs, spans: r.spans } satisfies IngestJob }
      }
      case "otlp-metrics": {
        const r = yield* otlp(() => decodeMetrics(req.payload, "json", window))
        if (r.points.length === 0) return yield* new BadRequest({ message: `payload has no valid data points${r.errors.length > 0 ? `: ${r.errors.slice(0, 5).join("; ")}` : ""}` })
        const points = r.points.map((pt) => ({ name: pt.name, value: pt.value, timeMs: pt.timeMs, serviceName: pt.serviceName, traceId: null, attributes: pt.attributes }))
        return { points: points.length, job: { _tag: "metrics", tenantId, receivedAtMs, source: "otlp", points } satisfies IngestJob }
      }
    }
  })

export const JobsLive = HttpApiBuilder.group(MplpApi, "jobs", (handlers) =>
  Effect.gen(function* () {
    const ingest = yield* IngestQueue
    const store = yield* TenantStore
    const quotas = yield* Quotas
    const { maxBodyBytes, eventMaxAgeSeconds, eventMaxFutureSeconds } = yield* AppConfig
    const chargePoints = pointsQuota(store, quotas)
    return handlers
      .handleRaw("submit", ({ headers }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("ingest")
          const req = yield* readJson(JobRequest, maxBodyBytes)
          const now = Date.now()
          const { job, points } = yield* toIngestJob(p.tenantId, req, now, timeWindow(now, eventMaxAgeSeconds, eventMaxFutureSeconds))
          yield* chargePoints(p.tenantId, points)
          return yield* ingest.idempotent(p.tenantId, req.idempotencyKey ?? headers["idempotency-key"], (jobId) =>
            ingest.submit(job as IngestJob, jobId === undefined ? {} : { jobId }).pipe(Effect.map((id) => ({ jobId: id })))
          )
        }).pipe(dbUnavailable)
      )
      .handle("get", ({ path }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("ingest")
          const info = yield* ingest.getJob(p.tenantId, path.jobId)
          return yield* Option.match(info, {
            onNone: () => Effect.fail(new NotFound({ message: `job ${idText(path.jobId)} not found` })),
            onSome: Effect.succeed
          })
        }).pipe(dbUnavailable)
      )
      .handle("listFailed", ({ urlParams }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("ingest")
          return { jobs: yield* ingest.listFailed(p.tenantId, urlParams.limit ?? 100) }
        }).pipe(dbUnavailable)
      )
      .handle("retry", ({ path }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("ingest")
          return yield* ingest.retry(p.tenantId, path.jobId)
        }).pipe(dbUnavailable)
      )
  })
)
