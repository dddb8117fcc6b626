import { Effect, Layer } from "effect"
import { Db } from "../db/Db.ts"
import { IngestJob } from "../domain/jobs.ts"
import { runWorker } from "../queues/Queues.ts"
import { Telemetry } from "../telemetry/Telemetry.ts"
import { finishExecution, startExecution, updateExecution } from "./executions.ts"
import { dedupKeys, insertMetricPoints, insertSpans, upsertSpanExecutions } from "./persist.ts"

/**
 * The ingest stage: validates (decode on dequeue), normalises and persists one batch per job, in one
 * transaction. Every write is keyed so that a redelivered job changes nothing.
 */
export const persistBatch = (job: IngestJob, jobId: string) =>
  Effect.gen(function* () {
    const db = yield* Db
    return yield* db.transaction((tx) => {
      switch (job._tag) {
        case "metrics":
          return insertMetricPoints(tx, job.tenantId, job.points, dedupKeys(job.points, job.source, jobId)).pipe(
            Effect.as({ applied: true, points: job.points })
          )
        case "spans":
          return Effect.zipRight(insertSpans(tx, job.tenantId, job.spans), upsertSpanExecutions(tx, job.tenantId, job.spans)).pipe(
            Effect.as({ applied: true, points: [] })
          )
        case "execution-start":
          return startExecution(tx, job)
        case "execution-update":
          return updateExecution(tx, job, jobId)
        case "execution-finish":
          return finishExecution(tx, job, jobId)
      }
    })
  }).pipe(Effect.withSpan("IngestStage.persistBatch", { attributes: { kind: job._tag, tenantId: job.tenantId } }))

export const IngestStage = {
  layer: (concurrency: number) =>
    Layer.scopedDiscard(
      Effect.gen(function* () {
        const telemetry = yield* Telemetry
        yield* runWorker({
          stage: "ingest",
          schema: IngestJob,
          concurrency,
          process: (job, bullJob) =>
            persistBatch(job, bullJob.id ?? "").pipe(
              Effect.tap(() =>
                Effect.sync(() => {
                  telemetry.jobsProcessed.add(1, { stage: "ingest", kind: job._tag })
                  telemetry.jobLatency.record(Date.now() - bullJob.timestamp, { stage: "ingest" })
                })
              ),
              Effect.annotateLogs({ tenantId: job.tenantId, jobId: bullJob.id ?? "" })
            )
        })
      })
    )
}
