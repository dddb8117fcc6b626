import type { Job } from "bullmq"
import { Context, Duration, Effect, Layer, Option, Ref, Schedule } from "effect"
import { createHash, randomUUID } from "node:crypto"
import type { ObservableResult } from "@opentelemetry/api"
import { AppConfig } from "../config/AppConfig.ts"
import { Telemetry } from "../telemetry/Telemetry.ts"
import { Conflict, messageOf, NotFound, ServiceUnavailable, TooManyRequests } from "../domain/errors.ts"
import type { IngestJob } from "../domain/jobs.ts"
import { toMetricColumns } from "../domain/metricColumns.ts"
import type { IngestJobWireEncoded } from "../domain/ingestWire.ts"
import { toSpanColumns } from "../domain/spanColumns.ts"
import { makeIngestPartitions, withTraceContext } from "../queues/Queues.ts"
import { TenantStore } from "../tenants/TenantStore.ts"
import { itemsOf, priorityOf, releaseBacklogAndHold, releaseBacklogIn, reserveBacklog } from "./Backlog.ts"
import type { Lane } from "./Backlog.ts"
import { requestBytes } from "../api/body.ts"
import { earliestEventOf, registerHold, releaseHoldIn } from "../aggregation/holds.ts"
import { forgetDeadLetter, listDeadLetters, shortReason, tenantOfJob } from "./DeadLetters.ts"
import { execAll, RedisConnection } from "../queues/Redis.ts"
import type { RedisService } from "../queues/Redis.ts"
import { redisKeys } from "../queues/keys.ts"

export interface SubmitOptions {
  /** A stable job id makes a retried submission a no-op while the job is kept. */
  readonly jobId?: string
  /** Enqueue even over the backlog bound: for the tiny jobs that keep others from waiting forever. */
  readonly ignoreBacklog?: boolean
}


export interface JobInfo {
  readonly jobId: string
  readonly kind: string
  readonly state: string
  readonly attempts: number
  readonly failedReason?: string
  readonly createdAt: string
  readonly startedAt?: string
  readonly finishedAt?: string
}


/** Job ids carry the tenant, so a lookup can refuse another tenant's job without reading it. */
export const newJobId = (tenantId: string) => `${tenantId}.${randomUUID()}`
/**
 * Where the ingest stage leaves a small record of a finished job, after the job itself is removed from
 * Redis: in the job's tenant's slot (one write per batch would otherwise all land on one cluster node).
 */
export const jobDoneKey = (prefix: string, jobId: string) => {
  const dot = jobId.indexOf(".")
  return dot <= 0 ? redisKeys(prefix).global("job-done", jobId) : redisKeys(prefix).tenant(jobId.slice(0, dot), "job-done", jobId)
}
/** Where records were written before they moved to the tenant's slot: still read for a day after an upgrade. */
const legacyJobDoneKey = (prefix: string, jobId: string) => redisKeys(prefix).global("job-done", jobId)
export const JOB_DONE_SECONDS = 86_400

/**
 * A job is stored: its record (what `GET /api/jobs/{id}` answers once BullMQ forgot the job) and the
 * release of its backlog share, pipelined into one round trip (both keys are in the tenant's slot).
 */
export const recordStored = async (
  redis: RedisService, tenantId: string, jobId: string,
  record: { readonly kind: string; readonly attempts: number; readonly createdAt: number; readonly startedAt: number | undefined; readonly finishedAt: number },
  /** The batch queued no aggregate job (no points, or all refused): nothing else releases its window hold. */
  releaseHold = false
) => {
  const pipeline = redis.client.pipeline().set(jobDoneKey(redis.prefix, jobId), JSON.stringify(record), "EX", JOB_DONE_SECONDS)
  releaseBacklogIn(pipeline, redis, tenantId, jobId)
  if (releaseHold) releaseHoldIn(pipeline, redis.keys, tenantId, jobId)
  await execAll(pipeline)
}

export { deadLetterKey, indexDeadLetter } from "./DeadLetters.ts"

export const idempotentJobId = (tenantId: string, key: string) =>
  `${tenantId}.idem-${createHash("sha256").update(key).digest("hex").slice(0, 32)}`

const unavailable = (what: string) =>
  new ServiceUnavailable({ message: `ingestion is unavailable: ${what}; retry later`, retryAfterSeconds: 2 })

const makeIngestQueue = Effect.gen(function* () {
  const redis = yield* RedisConnection
  const partitions = yield* makeIngestPartitions
  const store = yield* TenantStore
  const { maxBacklog, redisWaitReplicas, redisWaitTimeoutMs } = yield* AppConfig
  const backlog = yield* Ref.make(0)
  const telemetry = yield* Telemetry
  const observeDepth = (result: ObservableResult) => result.observe(Ref.get(backlog).pipe(Effect.runSync), { queue: "ingest" })
  telemetry.queueDepth.addCallback(observeDepth)
  yield* Effect.addFinalizer(() => Effect.sync(() => telemetry.queueDepth.removeCallback(observeDepth)))
  // Backlog is sampled, not counted per request: one Redis round trip a second instead of one per request.
  yield* Effect.tryPromise(() => partitions.getJobCountByTypes("wait", "prioritized", "delayed")).pipe(
    Effect.flatMap((n) => Ref.set(backlog, n)),
    Effect.ignore,
    Effect.repeat(Schedule.spaced(Duration.seconds(1))),
    Effect.forkScoped
  )

  // While Redis is away, ioredis holds a command until its next reconnect attempt (seconds apart once
  // backed off): refuse at once instead, so the client gets its 503 without waiting.
  const disconnected = () => redis.client.status !== "ready"

  const submit = (job: IngestJob, options: SubmitOptions = {}) =>
    Effect.gen(function* () {
      if (disconnected()) return yield* unavailable("Redis is not connected")
      if (options.ignoreBacklog !== true && (yield* Ref.get(backlog)) > maxBacklog) {
        return yield* unavailable(`the ingest backlog is over ${maxBacklog} batches`)
      }
      const jobId = options.jobId ?? newJobId(job.tenantId)
      // The batch holds its tenant's windows from closing until its partials are in (src/aggregation/holds.ts).
      const earliestEventMs = earliestEventOf(job)
      const hold = earliestEventMs === undefined ? undefined : { earliestEventMs, acceptedAtMs: Date.now() }
      let priority = 1
      let lane: Lane = "main"
      if (options.ignoreBacklog !== true) {
        // The tenant's share of the backlog: over it, this tenant alone waits (429); the others go on.
        const { limits } = yield* store.getSettings(job.tenantId).pipe(Effect.mapError(() => unavailable("tenant settings are unavailable")))
        const reservation = yield* reserveBacklog(redis, job.tenantId, jobId, itemsOf(job), yield* requestBytes, limits, hold, job._tag === "metrics" || job._tag === "spans").pipe(
          Effect.mapError((e) => unavailable(`Redis: ${e.message}`))
        )
        if (reservation._tag === "Over") {
          return yield* new TooManyRequests({
            message: `tenant ${job.tenantId} has ${reservation.points} points (${reservation.bytes} bytes) accepted and not yet stored, its share of the ingest backlog is ${limits.maxBacklogPoints} points / ${limits.maxBacklogBytes} bytes (settings.limits.maxBacklogPoints, maxBacklogBytes): retry later`,
            retryAfterSeconds: 1
          })
        }
        priority = priorityOf(reservation.points)
        lane = reservation.lane
      } else if (hold !== undefined) {
        yield* Effect.tryPromise(() => registerHold(redis, job.tenantId, jobId, hold.earliestEventMs, hold.acceptedAtMs)).pipe(
          Effect.mapError((e) => unavailable(`Redis: ${messageOf(e)}`))
        )
      }
      // The job contract has no transformations (its encoded form is its type), and the worker decodes
      // it again on dequeue: encoding here would only copy every point once more. Metrics travel as
      // columns (src/domain/metricColumns.ts): a tenth of the bytes through Redis; spans too
      // (src/domain/spanColumns.ts): a resource's attributes once, not once per span.
      const traced = yield* withTraceContext(job)
      const data: IngestJobWireEncoded = traced._tag === "metrics" ? toMetricColumns(traced) : traced._tag === "spans" ? toSpanColumns(traced) : traced
      yield* Effect.tryPromise({
        try: async () => {
          const queue = partitions.laneOf(job.tenantId, lane)
          await queue.add(job._tag, data, { jobId, priority })
          // Replication is asynchronous: a master that fails right after the enqueue would lose a batch
          // already acknowledged. Answer only once replicas hold it (a retry with the same job id, i.e.
          // Idempotency-Key, finds the job if it survived, and enqueues it again if not).
          if (redisWaitReplicas > 0) {
            const { acked, present } = await partitions.replicated(queue, jobId, redisWaitReplicas, redisWaitTimeoutMs)
            if (!present) throw new Error("the batch was lost from Redis (a failover?)")
            if (acked < redisWaitReplicas) throw new Error(`the batch reached ${acked} of ${redisWaitReplicas} Redis replicas within ${redisWaitTimeoutMs} ms`)
          }
        },
        catch: (e) => unavailable(`queue write failed (${messageOf(e)})`)
      }).pipe(
        Effect.timeoutFail({ duration: Duration.millis(2_000 + (redisWaitReplicas > 0 ? redisWaitTimeoutMs : 0)), onTimeout: () => unavailable("queue write timed out") }),
        Effect.tapError(() => Effect.tryPromise(() => releaseBacklogAndHold(redis, job.tenantId, jobId)).pipe(Effect.ignore))
      )
      return jobId
    }).pipe(Effect.withSpan("IngestQueue.submit"))

  /**
   * At most once per (tenant, key) for 24 h: the first request stores its response; a repeat gets
   * the stored response and enqueues nothing.
   */
  const idempotent = <A, E, R>(
    tenantId: string,
    idempotencyKey: string | undefined,
    run: (jobId: string | undefined) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, E | ServiceUnavailable, R> => {
    if (idempotencyKey === undefined) return run(undefined)
    const marker = redis.keys.tenant(tenantId, "idem", createHash("sha256").update(idempotencyKey).digest("hex"))
    const jobId = idempotentJobId(tenantId, idempotencyKey)
    return Effect.gen(function* () {
      // "pending" lives 30 s only: a request cut off before it stores its answer does not block the key for a day.
      const claimed = yield* redisCall(() => redis.client.set(marker, "pending", "EX", 30, "NX"))
      if (claimed === null) {
        const stored = yield* waitForStored(marker)
        return JSON.parse(stored) as A
      }
      const result = yield* run(jobId).pipe(
        Effect.onExit((exit) => (exit._tag === "Failure" ? redisCall(() => redis.client.del(marker)).pipe(Effect.ignore) : Effect.void))
      )
      yield* redisCall(() => redis.client.set(marker, JSON.stringify(result), "EX", 86_400))
      return result
    })
  }

  const waitForStored = (marker: string) =>
    redisCall(() => redis.client.get(marker)).pipe(
      Effect.flatMap((v) => (v === null || v === "pending" ? Effect.fail(unavailable("a request with this Idempotency-Key is in progress")) : Effect.succeed(v))),
      Effect.retry(Schedule.spaced(Duration.millis(50)).pipe(Schedule.upTo(Duration.seconds(2))))
    )

  const redisCall = <T>(f: () => Promise<T>) =>
    disconnected()
      ? Effect.fail(unavailable("Redis is not connected"))
      : Effect.tryPromise({ try: f, catch: (e) => unavailable(`Redis: ${messageOf(e)}`) })

  /** The next sequence number of an execution's start/update/finish; None if the execution is unknown here. */
  const nextSeq = (tenantId: string, traceId: string, ttlSeconds: number) => {
    const k = redis.keys.tenant(tenantId, "seq", traceId)
    return redisCall(() =>
      redis.client.eval(
        "if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end local n = redis.call('INCR', KEYS[1]) redis.call('EXPIRE', KEYS[1], ARGV[1]) return n",
        1, k, ttlSeconds
      )
    ).pipe(Effect.map((n) => (Number(n) < 0 ? Option.none<number>() : Option.some(Number(n)))))
  }

  /** Starts (or, from the database's last applied sequence, resumes) an execution's counter. */
  const initSeq = (tenantId: string, traceId: string, value: number, ttlSeconds: number) =>
    redisCall(() => redis.client.set(redis.keys.tenant(tenantId, "seq", traceId), String(value), "EX", ttlSeconds, "NX")).pipe(
      Effect.map((r) => r === "OK")
    )

  const dropSeq = (tenantId: string, traceId: string) =>
    redisCall(() => redis.client.del(redis.keys.tenant(tenantId, "seq", traceId))).pipe(Effect.ignore)

  const getJob = (tenantId: string, jobId: string) =>
    Effect.gen(function* () {
      if (!jobId.startsWith(`${tenantId}.`)) return Option.none<JobInfo>()
      const job = yield* redisCall(() => partitions.getJob(jobId))
      if (job === undefined || job === null) {
        // Completed jobs leave the queue within minutes (batches are large); their record stays a day.
        const done = yield* redisCall(async () =>
          (await redis.client.get(jobDoneKey(redis.prefix, jobId))) ?? (await redis.client.get(legacyJobDoneKey(redis.prefix, jobId))))
        if (done === null) return Option.none<JobInfo>()
        const d = JSON.parse(done) as { kind: string; attempts: number; createdAt: number; startedAt?: number; finishedAt: number }
        return Option.some<JobInfo>({
          jobId, kind: d.kind, state: "completed", attempts: d.attempts,
          createdAt: new Date(d.createdAt).toISOString(),
          ...(d.startedAt !== undefined ? { startedAt: new Date(d.startedAt).toISOString() } : {}),
          finishedAt: new Date(d.finishedAt).toISOString()
        })
      }
      const state = yield* redisCall(() => job.getState())
      return Option.some(jobInfo(job, state))
    })

  /** The tenant's dead-lettered jobs, newest first, from its index alone. */
  const listFailed = (tenantId: string, limit: number) => redisCall(() => listDeadLetters(redis, tenantId, limit))

  const forget = (tenantId: string, jobId: string) => redisCall(() => forgetDeadLetter(redis, tenantId, jobId))

  /**
   * Runs a dead-lettered job again with a fresh retry budget. NotFound: not the tenant's, or gone;
   * Conflict: the job is not failed (waiting, running, done).
   */
  const retry = (tenantId: string, jobId: string) =>
    Effect.gen(function* () {
      const notFound = new NotFound({ message: `job ${jobId} not found` })
      if (tenantOfJob(jobId) !== tenantId) return yield* notFound
      const job = yield* redisCall(() => partitions.getJob(jobId))
      if (job === undefined || job === null) {
        yield* forget(tenantId, jobId)
        return yield* notFound
      }
      const state = yield* redisCall(() => job.getState())
      if (state !== "failed") return yield* new Conflict({ message: `job ${jobId} is ${state}, not failed: only a failed job can be retried` })
      yield* Effect.tryPromise({
        try: () => job.retry("failed", { resetAttemptsMade: true, resetAttemptsStarted: true }),
        // Another retry won the race: the job is no longer failed.
        catch: () => new Conflict({ message: `job ${jobId} is no longer failed` })
      })
      yield* forget(tenantId, jobId)
      return { jobId, kind: job.name, state: "waiting", attempts: 0, createdAt: new Date(job.timestamp).toISOString() } satisfies JobInfo
    })

  return { submit, idempotent, nextSeq, initSeq, dropSeq, getJob, listFailed, retry, partitions } as const
})

const jobInfo = (job: Job, state: string): JobInfo => ({
  jobId: job.id ?? "",
  kind: job.name,
  state,
  // Started, not failed, attempts (BullMQ's attemptsMade stays 0 for a job completed first time): as the stored record counts.
  attempts: job.attemptsStarted,
  ...(job.failedReason ? { failedReason: shortReason(job.failedReason) } : {}),
  createdAt: new Date(job.timestamp).toISOString(),
  ...(job.processedOn ? { startedAt: new Date(job.processedOn).toISOString() } : {}),
  ...(job.finishedOn ? { finishedAt: new Date(job.finishedOn).toISOString() } : {})
})

export class IngestQueue extends Context.Tag("ingest/IngestQueue")<IngestQueue, Effect.Effect.Success<typeof makeIngestQueue>>() {
  static readonly Live = Layer.scoped(IngestQueue, makeIngestQueue)
}
