import { Queue, UnrecoverableError, Worker } from "bullmq"
import type { Job, JobsOptions } from "bullmq"
import { Cause, Duration, Effect, Exit, Runtime, Schema } from "effect"
import { SpanStatusCode } from "@opentelemetry/api"
import { AppConfig } from "../config/AppConfig.ts"
import { tracer } from "../telemetry/Telemetry.ts"
import { IngestPartitions } from "./IngestPartitions.ts"
import { redisKeys } from "./keys.ts"
import { RedisConnection } from "./Redis.ts"

export const STAGES = ["ingest", "aggregate", "detect", "alert"] as const
export type Stage = (typeof STAGES)[number]

/** BullMQ keys live under `{prefix}`: one hash slot per deployment, so Redis Cluster accepts the scripts. */
export const bullPrefix = (prefix: string) => redisKeys(prefix).bull

/** At-least-once with a retry budget; a job that exhausts it stays in `failed` (the dead-letter state). */
export const defaultJobOptions: JobsOptions = {
  attempts: 8,
  backoff: { type: "exponential", delay: 500 },
  // Completed jobs only serve job-id dedupe of a resubmission (idempotency proper is the 24 h Redis marker):
  // a few, briefly, so a batch of thousands of spans is not kept in Redis for an hour.
  removeOnComplete: { age: 600, count: 1_000 },
  removeOnFail: { age: 7 * 24 * 3600 }
}

export const makeQueue = (stage: Exclude<Stage, "ingest">) =>
  Effect.gen(function* () {
    const redis = yield* RedisConnection
    return yield* Effect.acquireRelease(
      Effect.sync(() =>
        new Queue(stage, {
          connection: redis.connection(`queue-${stage}`, false),
          prefix: bullPrefix(redis.prefix),
          defaultJobOptions
        })
      ),
      // Finalizers are uninterruptible: only an interruptible close can be cut short by the timeout.
      (q) => Effect.promise(() => q.close()).pipe(Effect.interruptible, Effect.timeout(Duration.seconds(5)), Effect.ignore)
    )
  })

/** Every ingest partition's queue (MPLP_QUEUE_PARTITIONS), on one connection, owned by the scope. */
export const makeIngestPartitions = Effect.gen(function* () {
  const redis = yield* RedisConnection
  const { queuePartitions } = yield* AppConfig
  return yield* Effect.acquireRelease(
    Effect.sync(() => IngestPartitions.open(redis.connection("queue-ingest", false), redis.prefix, queuePartitions)),
    (q) => Effect.promise(() => q.close()).pipe(Effect.interruptible, Effect.timeout(Duration.seconds(5)), Effect.ignore)
  )
})

export interface WorkerOptions<A, I, R> {
  readonly stage: Stage
  /** The queue's BullMQ prefix (an ingest partition's); the stage queues' by default. */
  readonly prefix?: string
  readonly schema: Schema.Schema<A, I>
  readonly concurrency: number
  /** Delay before a failed job's next attempt (BullMQ `backoff: { type: "custom" }`). */
  readonly backoffStrategy?: (attemptsMade: number, err: Error | undefined) => number
  readonly process: (payload: A, job: Job, token: string | undefined) => Effect.Effect<unknown, unknown, R>
  /** A job failed for good (retries exhausted or unrecoverable): it stays in `failed`, the dead letters. */
  readonly onDeadLetter?: (job: Job) => Promise<unknown>
}

/**
 * A BullMQ worker owned by the scope. Payloads are decoded on dequeue: one that does not decode is
 * failed at once (unrecoverable) instead of being retried. Closing waits for the jobs in hand.
 */
export const runWorker = <A, I, R>(options: WorkerOptions<A, I, R>) =>
  Effect.gen(function* () {
    const redis = yield* RedisConnection
    const { jobLockMs } = yield* AppConfig
    const runtime = yield* Effect.runtime<R>()
    const decode = Schema.decodeUnknown(options.schema)
    const processor = async (job: Job, token?: string) => {
      // The service's own trace: one OpenTelemetry span per job, exported with the rest when configured.
      const span = tracer().startSpan(`job ${options.stage}`, { attributes: { "messaging.system": "bullmq", "messaging.destination.name": options.stage, "messaging.message.id": job.id ?? "", "job.attempt": job.attemptsMade + 1 } })
      const exit = await Runtime.runPromiseExit(runtime)(
        decode(job.data).pipe(
          Effect.mapError((e) => new UnrecoverableError(`payload does not decode: ${e.message}`)),
          Effect.flatMap((payload) => options.process(payload, job, token)),
          Effect.withSpan(`Worker.${options.stage}`, { attributes: { jobId: job.id ?? "" } })
        )
      )
      if (Exit.isFailure(exit)) span.setStatus({ code: SpanStatusCode.ERROR, message: Cause.pretty(exit.cause).slice(0, 500) })
      span.end()
      if (Exit.isSuccess(exit)) return exit.value
      const failure = Cause.squash(exit.cause)
      if (failure instanceof Error) throw failure
      throw new Error(Cause.pretty(exit.cause))
    }
    const worker = yield* Effect.acquireRelease(
      Effect.sync(() =>
        new Worker(options.stage, processor, {
          connection: redis.connection(`worker-${options.stage}`, true),
          prefix: options.prefix ?? bullPrefix(redis.prefix),
          concurrency: options.concurrency,
          lockDuration: jobLockMs,
          stalledInterval: Math.max(1000, Math.floor(jobLockMs / 2)),
          autorun: true,
          ...(options.backoffStrategy === undefined
            ? {}
            : { settings: { backoffStrategy: (attemptsMade: number, _type?: string, err?: Error) => options.backoffStrategy?.(attemptsMade, err) ?? 1000 } })
        })
      ),
      (w) => Effect.promise(() => w.close()).pipe(Effect.interruptible, Effect.timeout(Duration.seconds(8)), Effect.ignore)
    )
    worker.on("error", () => {})
    worker.on("failed", (job, err) => {
      // BullMQ sets finishedOn only when the job moved to `failed` for good, not before a retry.
      const onDeadLetter = job !== undefined && typeof job.finishedOn === "number" ? options.onDeadLetter : undefined
      Runtime.runFork(runtime)(
        Effect.logWarning(`job failed: ${err.message}`).pipe(
          Effect.zipRight(onDeadLetter === undefined || job === undefined ? Effect.void : Effect.tryPromise(() => onDeadLetter(job)).pipe(
            Effect.catchAll((e) => Effect.logWarning(`dead-letter index not updated: ${String(e.error)}`))
          )),
          Effect.annotateLogs({ stage: options.stage, jobId: job?.id ?? "", attempt: job?.attemptsMade ?? 0 })
        )
      )
    })
    return worker
  })
