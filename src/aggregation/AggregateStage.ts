import { Duration, Effect, Layer } from "effect"
import { inLane } from "../db/fairGate.ts"
import { NotFound } from "../domain/errors.ts"
import { AggregateJob, DetectJob } from "../domain/pipeline.ts"
import { makeProducer, runWorker } from "../queues/Queues.ts"
import { RedisConnection } from "../queues/Redis.ts"
import { sweep } from "../queues/sweep.ts"
import { AppConfig } from "../config/AppConfig.ts"
import { TenantStore } from "../tenants/TenantStore.ts"
import { Telemetry } from "../telemetry/Telemetry.ts"
import { makeAggregator } from "./Aggregator.ts"
import { WindowRows } from "./windowRows.ts"
import { WindowStore } from "./WindowStore.ts"

// The aggregate stage's wiring: its worker and the sweep that closes quiet tenants' windows. What a job
// does is in Aggregator.ts, its SQL in windowRows.ts, the window maths in window.ts.

const makeStage = (concurrency: number) =>
  Effect.gen(function* () {
    const windows = yield* WindowStore
    const store = yield* TenantStore
    const telemetry = yield* Telemetry
    const detect = yield* makeProducer("detect", DetectJob)
    const redis = yield* RedisConnection
    const { queuePartitions } = yield* AppConfig
    const { process, closePass } = yield* makeAggregator({
      settingsOf: (tenantId) => Effect.map(store.getSettings(tenantId), (s) => s.windows),
      detect: (tenantId, jobId) => detect.add("windows", { tenantId }, { jobId }),
      onLate: (points) => telemetry.lateEvents.add(points)
    })

    // One worker per partition of the queue (as the ingest stage's), each with the stage's concurrency.
    for (let n = 0; n < queuePartitions; n++) {
      yield* runWorker({
        stage: "aggregate", prefix: redis.keys.partition(n), schema: AggregateJob, concurrency,
        process: (job) => process(job).pipe(Effect.annotateLogs({ tenantId: job.tenantId }))
      })
    }

    // A tenant the database does not know (a fresh database on a Redis that kept another's state): its
    // windows can never be stored, so they are dropped, with one warning, instead of failing every second.
    const closeOrDrop = (tenantId: string) =>
      closePass(tenantId).pipe(
        Effect.catchIf((e) => e instanceof NotFound, () =>
          windows.dropTenant(tenantId).pipe(
            Effect.zipRight(Effect.logWarning(`dropped the window state of tenant ${tenantId}: the database has no such tenant`)),
            Effect.annotateLogs({ tenantId })
          )
        )
      )

    // Quiet tenants: nothing advances their watermark, so the wall clock closes their windows.
    yield* sweep("window sweep", Duration.seconds(1), windows.openTenants.pipe(
      Effect.flatMap((tenants) => Effect.forEach(tenants, (t) => closeOrDrop(t).pipe(inLane(t), Effect.catchAllCause((c) => Effect.logWarning("close pass failed", c))), { discard: true }))
    ))
  })

export const AggregateStage = {
  layer: (concurrency: number) => Layer.scopedDiscard(makeStage(concurrency)).pipe(Layer.provide([WindowStore.Live, WindowRows.Live]))
}
