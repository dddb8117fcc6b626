import { DelayedError } from "bullmq"
import type { Job } from "bullmq"
import { Effect, Layer } from "effect"
import { genaiSeriesInto } from "../aggregation/genaiSeries.ts"
import { makeBatchFold, metricSeriesPoints, spanSeriesInto } from "../aggregation/partials.ts"
import { Db } from "../db/Db.ts"
import { executionIdOfJob } from "../domain/jobs.ts"
import type { IngestJob } from "../domain/jobs.ts"
import { ingestJobOfWire, IngestJobWire } from "../domain/ingestWire.ts"
import { AggregateJob, AlertJob, seriesKeyOf } from "../domain/pipeline.ts"
import { SeriesLimiter } from "../tenants/SeriesLimiter.ts"
import { makePartitionedProducer, makeProducer, runWorker } from "../queues/Queues.ts"
import { BULK_QUEUE } from "../queues/IngestPartitions.ts"
import { RedisConnection } from "../queues/Redis.ts"
import { indexDeadLetter, recordStored } from "./IngestQueue.ts"
import { earlierBatchesWaiting, releaseBacklogAndHold } from "./Backlog.ts"
import { tenantOfJob } from "./DeadLetters.ts"
import { AppConfig } from "../config/AppConfig.ts"
import { TenantStore } from "../tenants/TenantStore.ts"
import { TenantSupervisor } from "../executions/TenantSupervisor.ts"
import { TraceRegistry } from "../executions/TraceRegistry.ts"
import { Telemetry } from "../telemetry/Telemetry.ts"
import { TraceActors } from "../executions/TraceActors.ts"
import { finishExecution, startExecution, updateExecution } from "./executions.ts"
import type { Applied } from "./executions.ts"
import { ALWAYS_PROBE, awaitingFlag } from "./genai/awaitingFlag.ts"
import type { AwaitingFlag } from "./genai/awaitingFlag.ts"
import { deriveGenai, settleAwaiting, storedLoopCalls } from "./genai/derive.ts"
import { loopsAndRechecks, loopsFromMs } from "./genai/loops.ts"
import type { GenaiRecord } from "./genai/recognize.ts"
import type { Price } from "../domain/pricing.ts"
import { dedupKeys, insertMetricPoints, insertSpans, upsertSpanExecutions } from "./persist.ts"

/** How long after its batch a trace near its loop limit is counted again (src/ingest/genai/loops.ts, loopsAndRechecks). */
const LOOP_RECHECK_DELAY_MS = 3000
/**
 * An execution's finish waits, at most this long after it was accepted, for the tenant's batches accepted
 * before it (the spans its client sent first): the lanes and the stage's slots store a tenant's batches
 * side by side, and its execution_completed reads the execution's spans. Past it (a batch that keeps
 * failing, a reservation a killed API process left), the finish goes on.
 */
const FINISH_WAIT_MS = 10_000
const FINISH_RECHECK_MS = 50

/**
 * The ingest stage: validates (decode on dequeue), normalises and persists one batch per job, in one
 * transaction. Every write is keyed so that a redelivered job changes nothing.
 */
export const persistBatch = (job: IngestJob, jobId: string, pricing: ReadonlyArray<Price> = [], flag: AwaitingFlag = ALWAYS_PROBE) =>
  Effect.gen(function* () {
    const db = yield* Db
    // Raw rows need no transaction: every statement is keyed (ON CONFLICT), so a batch cut off halfway
    // is completed by its redelivery, and each BEGIN/COMMIT would cost the embedded database a round
    // trip and a file sync. Execution steps change a row in order and stay transactional.
    switch (job._tag) {
      case "metrics":
        return yield* insertMetricPoints(db, job.tenantId, job.points, dedupKeys(job.points, job.source, jobId)).pipe(
          Effect.as<Applied>({ applied: true, points: job.points })
        )
      case "spans": {
          const derived = yield* deriveGenai(db, job.tenantId, job.spans, pricing)
          const { awaiting, records } = derived
          if (awaiting.some((a) => a)) yield* flag.markAwaiting
          yield* insertSpans(db, job.tenantId, job.spans, records, awaiting)
          // Once written: the batch's and its traces' waiting spans get their names, then the traces'
          // stored calls are counted (one look at the flag and the stored spans per batch, after the
          // insert), beside the root spans' executions (neither reads what the other writes).
          const [storedCalls] = yield* Effect.all([
            settleAwaiting(db, job.tenantId, job.spans, derived, flag.mayHaveAwaiting).pipe(
              Effect.flatMap((adopting) => storedLoopCalls(db, job.tenantId, job.spans, derived, adopting))
            ),
            upsertSpanExecutions(db, job.tenantId, job.spans)
          ], { concurrency: 2 })
          return { applied: true, points: [], genai: records, storedCalls } satisfies Applied
      }
    }
    return yield* db.transaction((tx): Effect.Effect<Applied, unknown> => {
      switch (job._tag) {
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
        const db = yield* Db
        const store = yield* TenantStore
        const registry = yield* TraceRegistry
        const redis = yield* RedisConnection
        const supervisor = yield* TenantSupervisor
        const series = yield* SeriesLimiter
        const actors = yield* TraceActors
        const aggregate = yield* makePartitionedProducer("aggregate", AggregateJob)
        const alert = yield* makeProducer("alert", AlertJob)

        // GenAI: a runaway loop in an execution (once per execution), and the budgets once spending moved.
        const genaiAlerts = (job: IngestJob & { readonly _tag: "spans" }, genai: ReadonlyArray<GenaiRecord | undefined>, applied: Applied, jobId: string) =>
          Effect.gen(function* () {
            const settings = yield* store.getSettings(job.tenantId)
            const { loops, recheck } = loopsAndRechecks(job.spans, genai, applied.storedCalls ?? new Map(), settings.detector.maxRepeatedCalls, 2 * concurrency)
            for (const l of loops) {
              const payload = { executionId: l.traceId, traceId: l.traceId, repeated: l.repeated, calls: l.calls, maxRepeatedCalls: settings.detector.maxRepeatedCalls }
              yield* alert.add("event", { _tag: "event", tenantId: job.tenantId, eventType: "agent_loop_suspected", key: l.traceId, payload }, { jobId: `${job.tenantId}.loop-${l.traceId}` })
            }
            // Traces past 1 / (2 × concurrency) of the limit are counted again a little later: the batches of the
            // same trace stored at the same moment by this stage's other slots (a partition's two lanes, each
            // with `concurrency`) are then committed (loopsAndRechecks).
            if (recheck.length > 0) {
              yield* alert.add(
                "loops", { _tag: "loops", tenantId: job.tenantId, traceIds: recheck, fromMs: loopsFromMs(job.spans), maxRepeatedCalls: settings.detector.maxRepeatedCalls },
                { jobId: `${job.tenantId}.loops-${jobId}`, delay: LOOP_RECHECK_DELAY_MS }
              )
            }
            if (settings.budgets.length > 0 && genai.some((g) => g !== undefined && g.costUsd !== null)) {
              yield* alert.add("budgets", { _tag: "budgets", tenantId: job.tenantId }, { jobId: `${job.tenantId}.budgets-${jobId}` })
            }
          })

        // Hands the batch's series points on, folded per window. Runs on every delivery, also when the
        // rows were already stored, so a crash between commit and hand-off loses nothing; the same job
        // id (and the window store's per-batch fields) make the repeat harmless.
        // Whether it queued an aggregate job: if not, the batch's window hold is released with its record.
        const handOff = (job: IngestJob, applied: Applied, jobId: string) =>
          Effect.gen(function* () {
            let aggregated = false
            const hasPoints = job._tag === "spans" ? job.spans.length > 0 : applied.points.length > 0
            if (hasPoints) {
              const settings = yield* store.getSettings(job.tenantId)
              // The series cap also holds for what the API could not cap (spans' RED series, execution
              // metrics, /api/jobs): their raw rows are stored, their new series over the cap not windowed.
              // Folded first: the series are asked for by the partials (a few dozen), not point by point
              // (thousands); the points of a refused series are its partials' points. Every point the
              // stages make has a finite time and value (the API refuses the others), so the partials
              // hold them all.
              const windowSizeMs = settings.windows.sizeSeconds * 1000
              const fold = makeBatchFold(windowSizeMs)
              if (job._tag === "spans") {
                spanSeriesInto(fold.add, job.spans)
                genaiSeriesInto(fold.add, job.spans, applied.genai)
              } else for (const p of metricSeriesPoints(applied.points)) fold.add(p.metricName, p.serviceName, p.operation, p.timeMs, p.value)
              const folded = fold.result()
              const refused = yield* series.admit(job.tenantId, folded.map((g) => seriesKeyOf(g.partial)), settings.limits.maxActiveSeries)
              const kept = refused.size === 0 ? folded : folded.filter((g) => !refused.has(seriesKeyOf(g.partial)))
              if (refused.size > 0) {
                let rejected = 0
                for (const g of folded) if (refused.has(seriesKeyOf(g.partial))) rejected += g.points
                telemetry.seriesRejected.add(rejected, { where: "stage" })
              }
              let maxEventTimeMs = Number.NEGATIVE_INFINITY
              for (const g of kept) if (g.maxTimeMs > maxEventTimeMs) maxEventTimeMs = g.maxTimeMs
              if (kept.length > 0) {
                yield* aggregate.add("partials", { tenantId: job.tenantId, sourceJobId: jobId, windowSizeMs, maxEventTimeMs, partials: kept.map((g) => g.partial) }, { jobId })
                aggregated = true
              }
            }
            if (job._tag === "spans" && applied.genai !== undefined && applied.genai.some((g) => g !== undefined)) yield* genaiAlerts(job, applied.genai, applied, jobId)
            // Open executions: the deadline is durable (Redis), the in-memory timer that watches it is not.
            // Executions are watched by their id (the trace id, or <traceId>-<spanId> for a later one of the trace).
            if ((job._tag === "execution-start" || job._tag === "execution-update") && applied.applied) {
              const settings = yield* store.getSettings(job.tenantId)
              const deadlineMs = Date.now() + settings.traceTimeoutSeconds * 1000
              const executionId = executionIdOfJob(job)
              yield* registry.touch(job.tenantId, executionId, deadlineMs)
              yield* supervisor.notify(job.tenantId, { _tag: "Opened", traceId: executionId, deadlineMs })
            }
            if (job._tag === "execution-finish") {
              const executionId = executionIdOfJob(job)
              yield* registry.close(job.tenantId, executionId)
              yield* supervisor.notify(job.tenantId, { _tag: "Closed", traceId: executionId })
              const payload = {
                executionId, traceId: job.traceId, serviceName: applied.serviceName ?? "", success: job.result.success,
                durationMs: job.result.durationMs ?? null, errorMessage: job.result.errorMessage ?? null
              }
              yield* alert.add("event", { _tag: "event", tenantId: job.tenantId, eventType: "execution_completed", key: executionId, payload }, { jobId: `${jobId}-done` })
            }
            return aggregated
          })

        // Stores one batch and hands it on; the batch leaves its tenant's share of the backlog.
        const storeJob = (job: IngestJob, bullJob: Job) => {
          const jobId = bullJob.id ?? ""
          const persist = store.getSettings(job.tenantId).pipe(
            Effect.flatMap((settings) => persistBatch(job, jobId, settings.pricing, awaitingFlag(redis, job.tenantId))),
            Effect.provideService(Db, db)
          )
          // An execution's steps are applied by its trace actor, one at a time, which keeps its live state.
          const applied = job._tag === "metrics" || job._tag === "spans" ? persist : actors.submit(job.tenantId, job, persist)
          return applied.pipe(
            Effect.flatMap((applied) => handOff(job, applied, jobId)),
            // Stored: its record for GET /api/jobs/{id}, and the batch leaves its tenant's share of the
            // backlog (and, when it queued no aggregate job, releases its window hold), in one round trip
            // (the keys are in the tenant's slot).
            Effect.tap((aggregated) =>
              Effect.tryPromise(() =>
                recordStored(redis, job.tenantId, jobId, { kind: job._tag, attempts: bullJob.attemptsMade + 1, createdAt: bullJob.timestamp, startedAt: bullJob.processedOn, finishedAt: Date.now() }, !aggregated)
              )
            ),
            Effect.tap(() =>
              Effect.sync(() => {
                telemetry.jobsProcessed.add(1, { stage: "ingest", kind: job._tag })
                telemetry.jobLatency.record(Date.now() - bullJob.timestamp, { stage: "ingest" })
              })
            ),
            Effect.annotateLogs({ tenantId: job.tenantId, jobId })
          )
        }

        // An execution's finish is stored after the batches its tenant sent before it (FINISH_WAIT_MS):
        // while some wait, it goes back to the queue's delayed set for a moment (not an attempt).
        const storeFinish = (job: IngestJob, bullJob: Job, token: string | undefined) =>
          Date.now() - bullJob.timestamp >= FINISH_WAIT_MS
            ? storeJob(job, bullJob)
            : earlierBatchesWaiting(redis, job.tenantId, bullJob.id ?? "").pipe(
              Effect.flatMap((earlier) =>
                earlier === 0
                  ? storeJob(job, bullJob)
                  : Effect.tryPromise(() => bullJob.moveToDelayed(Date.now() + FINISH_RECHECK_MS, token)).pipe(
                    Effect.zipRight(Effect.fail(new DelayedError(`waits for ${earlier} batches of its tenant accepted before it`)))
                  )
              )
            )

        // One worker per partition and lane, each with the stage's concurrency: a partition whose tenant
        // has a long backlog keeps only its own bulk lane's worker busy (src/queues/IngestPartitions.ts);
        // the database sees the partitions' jobs side by side.
        const { queuePartitions } = yield* AppConfig
        for (let n = 0; n < queuePartitions; n++) for (const queue of ["ingest", BULK_QUEUE]) {
          yield* runWorker({
            stage: "ingest",
            queue,
            prefix: redis.keys.partition(n),
            schema: IngestJobWire,
            concurrency,
            onDeadLetter: (bullJob) =>
              Promise.all([indexDeadLetter(redis, bullJob), releaseBacklogAndHold(redis, tenantOfJob(bullJob.id ?? "") ?? "", bullJob.id ?? "")]),
            process: (wire, bullJob, token) => {
              const job = ingestJobOfWire(wire)
              return job._tag === "execution-finish" ? storeFinish(job, bullJob, token) : storeJob(job, bullJob)
            }
          })
        }
      })
    )
}
