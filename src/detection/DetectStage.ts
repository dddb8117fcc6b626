import { Duration, Effect, Layer } from "effect"
import { randomUUID } from "node:crypto"
import { oneAtATime } from "../db/cursor.ts"
import { Db } from "../db/Db.ts"
import { AlertJob, DetectJob } from "../domain/pipeline.ts"
import { makeProducer, runWorker } from "../queues/Queues.ts"
import { sweep } from "../queues/sweep.ts"
import { TenantStore } from "../tenants/TenantStore.ts"
import { DETECT_BATCH, detectPending } from "./detectRows.ts"

// The detect stage's wiring: its worker and the hand-off sweep. The evaluation is in evaluate.ts (pure),
// the SQL in detectRows.ts.

export const DetectStage = {
  layer: (concurrency: number) =>
    Layer.scopedDiscard(
      Effect.gen(function* () {
        const db = yield* Db
        const store = yield* TenantStore
        const alert = yield* makeProducer("alert", AlertJob)
        const detectQueue = yield* makeProducer("detect", DetectJob)
        // One pass per tenant at a time in this process (the passes of other processes retry, see detectPending).
        const turn = oneAtATime()
        yield* runWorker({
          stage: "detect",
          schema: DetectJob,
          concurrency,
          process: (job) =>
            Effect.gen(function* () {
              const settings = yield* store.getSettings(job.tenantId)
              const n = yield* turn(job.tenantId, detectPending(db, job.tenantId, settings))
              if (n === 0) return
              yield* alert.add("evaluate", { _tag: "evaluate", tenantId: job.tenantId }, { jobId: `${job.tenantId}.eval-${randomUUID()}` })
              // More than one batch pending: continue in a fresh job rather than hold the cursor.
              if (n >= DETECT_BATCH) yield* detectQueue.add("windows", { tenantId: job.tenantId }, { jobId: `${job.tenantId}.det-${randomUUID()}` })
            }).pipe(Effect.annotateLogs({ tenantId: job.tenantId }), Effect.withSpan("DetectStage.process"))
        })
        // Crash recovery: windows closed but never handed on (the hand-off job was lost) are picked up here.
        yield* sweep("window hand-off sweep", Duration.seconds(10), db.query<{ tenant_id: string }>(
          "SELECT DISTINCT tenant_id FROM metric_windows WHERE evaluated_at IS NULL AND closed_at <= now() - interval '10 seconds'"
        ).pipe(
          Effect.flatMap((rows) => Effect.forEach(rows, (r) =>
            detectQueue.add("windows", { tenantId: r.tenant_id }, { jobId: `${r.tenant_id}.det-${randomUUID()}` }), { discard: true }))
        ))
      })
    )
}
