import { UnrecoverableError, Worker } from "bullmq"
import type { Queue } from "bullmq"
import type { Job, JobsOptions } from "bullmq"
import { Cause, Duration, Effect, Exit, Option, Runtime, Schema } from "effect"
import { AppConfig } from "../config/AppConfig.ts"
import { inLane } from "../db/fairGate.ts"
import { messageOf } from "../domain/errors.ts"
import { fastDecoder } from "../domain/fastDecode.ts"
import { describeIssues, formatParseError } from "../domain/issues.ts"
import { currentTraceparent, spanOfTraceparent, tenantOfJobData, traceparentOfJob } from "../telemetry/traceContext.ts"
import { closeWhenStarted, openQueue } from "./bullQueue.ts"
import { IngestPartitions } from "./IngestPartitions.ts"
import { redisKeys } from "./keys.ts"
import { defaultJobOptions } from "./jobOptions.ts"
import { RedisConnection } from "./Redis.ts"

export const STAGES = ["ingest", "aggregate", "detect", "alert"] as const
export type Stage = (typeof STAGES)[number]

/** BullMQ keys live under `{prefix}`: one hash slot per deployment, so Redis Cluster accepts the scripts. */
export const bullPrefix = (prefix: string) => redisKeys(prefix).bull

export { defaultJobOptions }

export const makeQueue = (stage: Exclude<Stage, "ingest">) =>
  Effect.gen(function* () {
    const redis = yield* RedisConnection
    return yield* Effect.acquireRelease(
      Effect.sync(() =>
        openQueue(stage, {
          connection: redis.connection(`queue-${stage}`, false),
          prefix: bullPrefix(redis.prefix),
          defaultJobOptions
        })
      ),
      // Finalizers are uninterruptible: only an interruptible close can be cut short by the timeout.
      (q) => Effect.promise(() => closeWhenStarted(q)).pipe(Effect.interruptible, Effect.timeout(Duration.seconds(5)), Effect.ignore)
    )
  })

/**
 * A job's encoding with the stage's schema. A job the fast predicate vouches for is its own encoding
 * (the schema has no transformation then), so it is queued without the schema's copy.
 */
export const jobEncoder = <A, I>(schema: Schema.Schema<A, I>) => {
  const fast = fastDecoder(schema)
  const encodeSync = Schema.encodeSync(schema)
  return (job: A): I => (fast?.(job) as I | undefined) ?? encodeSync(job)
}

/**
 * The typed producer of a stage's queue: a job is encoded with the stage's schema (never queued as it
 * happens to be in memory) and carries the current trace context.
 */
export const makeProducer = <A, I extends object>(stage: Exclude<Stage, "ingest">, schema: Schema.Schema<A, I>) =>
  Effect.map(makeQueue(stage), (queue) => {
    const encode = jobEncoder(schema)
    return {
      add: (name: string, job: A, options?: JobsOptions) => addJob(queue, name, encode(job), options),
      addBulk: (jobs: ReadonlyArray<{ readonly name: string; readonly job: A; readonly opts?: JobsOptions }>) =>
        addJobs(queue, jobs.map((j) => ({ name: j.name, data: encode(j.job), ...(j.opts === undefined ? {} : { opts: j.opts }) })))
    }
  })

/**
 * The typed producer of the aggregate stage's queue, split in partitions like the ingest queue (one queue
 * per partition, in the partition's hash slot): a job goes to its tenant's partition, so per-tenant
 * FIFO order is kept and a Redis Cluster spreads the stage's queue operations over its masters.
 */
export const makePartitionedProducer = <A extends { readonly tenantId: string }, I extends object>(stage: "aggregate", schema: Schema.Schema<A, I>) =>
  Effect.gen(function* () {
    const redis = yield* RedisConnection
    const { queuePartitions } = yield* AppConfig
    const partitions = yield* Effect.acquireRelease(
      Effect.sync(() => IngestPartitions.open(redis.connection(`queue-${stage}`, false), redis.prefix, queuePartitions, stage)),
      (q) => Effect.promise(() => q.close()).pipe(Effect.interruptible, Effect.timeout(Duration.seconds(5)), Effect.ignore)
    )
    const encode = jobEncoder(schema)
    return {
      add: (name: string, job: A, options?: JobsOptions) => addJob(partitions.of(job.tenantId), name, encode(job), options)
    }
  })

/** The job data with the current span's trace context: the stage that takes the job continues this trace. */
export const withTraceContext = <D extends object>(data: D): Effect.Effect<D & { readonly traceparent?: string }> =>
  Effect.map(currentTraceparent, (traceparent) => (traceparent === undefined ? data : { ...data, traceparent }))

/** `queue.add` of a job that carries the current trace context. */
export const addJob = (queue: Queue, name: string, data: object, options?: JobsOptions) =>
  Effect.flatMap(withTraceContext(data), (traced) => Effect.tryPromise(() => queue.add(name, traced, options)))

/** `queue.addBulk` of jobs that carry the current trace context. */
export const addJobs = (queue: Queue, jobs: ReadonlyArray<{ readonly name: string; readonly data: object; readonly opts?: JobsOptions }>) =>
  Effect.flatMap(Effect.forEach(jobs, (j) => Effect.map(withTraceContext(j.data), (data) => ({ ...j, data }))), (traced) =>
    Effect.tryPromise(() => queue.addBulk(traced)))

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
  /** The queue's name: the stage's by default (an ingest partition's bulk lane has its own). */
  readonly queue?: string
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
    const { jobLockMs, selfTenant } = yield* AppConfig
    const runtime = yield* Effect.runtime<R>()
    // Every issue (up to 5 in the reason), not the first: only jobs the fast path refused come here.
    const slowDecode = Schema.decodeUnknown(options.schema, { errors: "all" })
    // Jobs the service wrote are valid as they stand: taken without the schema's copy (see fastDecode.ts).
    const fast = fastDecoder(options.schema)
    const decode = (data: unknown) => {
      const taken = fast?.(data)
      return taken === undefined ? slowDecode(data) : Effect.succeed(taken)
    }
    // BullMQ hands the processor an abort signal (cancelJob / cancelAllJobs): it interrupts the job's
    // fiber, so its transaction rolls back and its resources are released; the job fails and is retried.
    const processor = async (job: Job, token?: string, signal?: AbortSignal) => {
      const tenantId = tenantOfJobData(job.data)
      const parent = spanOfTraceparent(traceparentOfJob(job.data))
      const run = decode(job.data).pipe(
        // Where it failed (`points: Expected …, actual "x"`), not the job's whole type: the reason is what
        // GET /api/jobs?state=failed and the console's Jobs page show.
        Effect.mapError((e) => new UnrecoverableError(`payload does not decode: ${describeIssues(formatParseError(e, 5))}`)),
        Effect.flatMap((payload) => options.process(payload, job, token)),
        // The database's fair gate shares its slots between tenants (src/db/fairGate.ts).
        inLane(typeof tenantId === "string" ? tenantId : ""),
        // The stage's span continues the trace of the span that enqueued the job (a root span if none did).
        Effect.withSpan(`Worker.${options.stage}`, {
          kind: "consumer",
          captureStackTrace: false,
          root: true,
          ...(parent === undefined ? {} : { parent }),
          attributes: {
            "messaging.system": "bullmq", "messaging.destination.name": options.stage, "messaging.message.id": job.id ?? "",
            "messaging.operation.type": "process", "job.attempt": job.attemptsMade + 1, ...(typeof tenantId === "string" ? { tenantId } : {})
          }
        }),
        // The self tenant's jobs carry the service's own telemetry: traced, they would make more of it without end.
        // (Others are traced when the service's spans are exported at all: Telemetry.Live.)
        (e) => (Option.isSome(selfTenant) && tenantId === selfTenant.value ? Effect.withTracerEnabled(e, false) : e)
      )
      const exit = await Runtime.runPromiseExit(runtime)(run, signal === undefined ? undefined : { signal })
      if (Exit.isSuccess(exit)) return exit.value
      if (signal?.aborted === true && Cause.isInterruptedOnly(exit.cause)) throw new Error(`cancelled: ${messageOf(signal.reason ?? "aborted")}`)
      const failure = Cause.squash(exit.cause)
      // A promise's rejection wrapped by Effect.tryPromise: its own message is what the failed job must say.
      if (Cause.isUnknownException(failure)) throw new Error(`${failure.message}: ${messageOf(failure.error)}`, { cause: failure.error })
      if (failure instanceof Error) throw failure
      throw new Error(Cause.pretty(exit.cause))
    }
    const worker = yield* Effect.acquireRelease(
      Effect.sync(() =>
        new Worker(options.queue ?? options.stage, processor, {
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
      // Closing waits for the jobs in hand; those still running after the grace are cancelled (their
      // fibers interrupted, their jobs retried later) rather than left running past the close.
      (w) => Effect.promise(() => closeWhenStarted(w)).pipe(
        Effect.interruptible,
        Effect.timeout(Duration.seconds(8)),
        Effect.catchAll(() => Effect.sync(() => w.cancelAllJobs("the worker is shutting down")).pipe(
          Effect.zipRight(Effect.promise(() => w.close()).pipe(Effect.interruptible, Effect.timeout(Duration.seconds(2))))
        )),
        Effect.ignore
      )
    )
    // Connection errors and the like: BullMQ retries by itself, the log says why work stalls meanwhile
    // (at most one line per 10 s per worker: a reconnect loop reports the same error again and again).
    let lastErrorLogMs = 0
    worker.on("error", (err) => {
      const now = Date.now()
      if (now - lastErrorLogMs < 10_000) return
      lastErrorLogMs = now
      Runtime.runFork(runtime)(Effect.logWarning(`worker error: ${messageOf(err)}`).pipe(Effect.annotateLogs({ stage: options.stage })))
    })
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
