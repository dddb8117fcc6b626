import { HttpApiBuilder } from "@effect/platform"
import { Effect } from "effect"
import { AppConfig } from "../../config/AppConfig.ts"
import { MetricsRequest } from "../../domain/ingest.ts"
import { IngestQueue } from "../../ingest/IngestQueue.ts"
import { pointsFromRequest } from "../../ingest/native.ts"
import { Quotas } from "../../tenants/Quotas.ts"
import { TenantStore } from "../../tenants/TenantStore.ts"
import { Telemetry } from "../../telemetry/Telemetry.ts"
import { MplpApi } from "../Api.ts"
import { requireScope } from "../auth.ts"
import { dbUnavailable, readJson, withRetryAfter } from "../body.ts"

export const MetricsLive = HttpApiBuilder.group(MplpApi, "metrics", (handlers) =>
  Effect.gen(function* () {
    const ingest = yield* IngestQueue
    const store = yield* TenantStore
    const quotas = yield* Quotas
    const telemetry = yield* Telemetry
    const { maxBodyBytes } = yield* AppConfig
    return handlers.handleRaw("ingest", ({ headers }) =>
      Effect.gen(function* () {
        const p = yield* requireScope("ingest")
        const body = yield* readJson(MetricsRequest, maxBodyBytes)
        const settings = yield* store.getSettings(p.tenantId).pipe(Effect.orDie)
        yield* quotas.charge(p.tenantId, settings.quotas, body.points.length, false).pipe(
          Effect.tapError((e) => withRetryAfter(e.retryAfterSeconds))
        )
        return yield* ingest.idempotent(p.tenantId, headers["idempotency-key"], (jobId) =>
          Effect.gen(function* () {
            const receivedAtMs = Date.now()
            const points = pointsFromRequest(body, receivedAtMs)
            const id = yield* ingest.submit({ _tag: "metrics", tenantId: p.tenantId, receivedAtMs, source: "native", points }, jobId === undefined ? {} : { jobId })
            telemetry.pointsAccepted.add(points.length)
            return { accepted: points.length, jobId: id }
          })
        )
      }).pipe(dbUnavailable)
    )
  })
)
