import type { Job } from "bullmq"
import type { Redis } from "ioredis"
import { Context, Duration, Effect, Layer, Option, Ref, Schedule } from "effect"
import { createHash, randomUUID } from "node:crypto"
import type { ObservableResult } from "@opentelemetry/api"
import { AppConfig } from "../config/AppConfig.ts"
import { Telemetry } from "../telemetry/Telemetry.ts"
import { Conflict, NotFound, ServiceUnavailable } from "../domain/errors.ts"
import type { IngestJob } from "../domain/jobs.ts"
import type { IngestJobEncoded } from "../domain/jobs.ts"
import { makeQueue } from "../queues/Queues.ts"
import { RedisConnection } from "../queues/Redis.ts"

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
  readonly finishedAt?: string
}


/** Job ids carry the tenant, so a lookup can refuse another tenant's job without reading it. */
export const newJobId = (tenantId: string) => `${tenantId}.${randomUUID()}`
/** Where the ingest stage leaves a small record of a finished job, after the job itself is removed from Redis. */
export const jobDoneKey = (prefix: string, jobId: string) => `{${prefix}}:job-done:${jobId}`
export const JOB_DONE_SECONDS = 86_400

/**
 * A tenant's dead letters, a small index written when an ingest job fails for good: job id → when it
 * failed (a sorted set), and job id → its record (kind, times, attempts, the reason cut short) in a
 * hash. Listing reads only these, never the jobs (a batch of thousands of spans each).
 */
export const deadLetterKey = (prefix: string, tenantId: string) => `{${prefix}}:ingest-failed:${tenantId}`
const deadLetterInfoKey = (prefix: string, tenantId: string) => `{${prefix}}:ingest-failed-info:${tenantId}`
const DEAD_LETTER_DAYS = 7
const DEAD_LETTER_MAX = 10_000
const REASON_CHARS = 500

/** A failure reason can quote a whole payload: the client gets its start. */
const shortReason = (reason: string) => (reason.length > REASON_CHARS ? `${reason.slice(0, REASON_CHARS)}…` : reason)

interface DeadLetter {
  readonly kind: string
  readonly attempts: number
  readonly reason: string
  readonly createdAt: number
  readonly failedAt: number
}

// Adds one entry, then drops those older than the cutoff and the oldest beyond the maximum, from both keys.
const INDEX_DEAD_LETTER = `
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4])
local kept = redis.call('ZCARD', KEYS[1]) - #gone
local max = tonumber(ARGV[5])
if kept > max then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], #gone, #gone + kept - max - 1)) do gone[#gone + 1] = id end
end
for i = 1, #gone, 500 do
  local chunk = {unpack(gone, i, math.min(i + 499, #gone))}
  redis.call('ZREM', KEYS[1], unpack(chunk))
  redis.call('HDEL', KEYS[2], unpack(chunk))
end
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[6])
`

/** The tenant of a job id (`<tenant>.<id>`), or undefined. */
const tenantOfJob = (jobId: string) => {
  const dot = jobId.indexOf(".")
  return dot <= 0 ? undefined : jobId.slice(0, dot)
}

/** Indexes a job that failed for good under its tenant (job ids are `<tenant>.<id>`), pruning what BullMQ has dropped. */
export const indexDeadLetter = (redis: { readonly client: Redis; readonly prefix: string }, job: Job) => {
  const id = job.id ?? ""
  const tenantId = tenantOfJob(id)
  if (tenantId === undefined) return Promise.resolve()
  const at = job.finishedOn ?? Date.now()
  const reason = job.failedReason ?? ""
  const record: DeadLetter = {
    kind: job.name, attempts: job.attemptsMade, createdAt: job.timestamp, failedAt: at,
    reason: shortReason(reason)
  }
  return redis.client.eval(
    INDEX_DEAD_LETTER, 2, deadLetterKey(redis.prefix, tenantId), deadLetterInfoKey(redis.prefix, tenantId),
    id, at, JSON.stringify(record), at - DEAD_LETTER_DAYS * 86_400_000, DEAD_LETTER_MAX, DEAD_LETTER_DAYS * 86_400
  )
}

const deadLetterInfo = (jobId: string, d: DeadLetter): JobInfo => ({
  jobId, kind: d.kind, state: "failed", attempts: d.attempts,
  ...(d.reason === "" ? {} : { failedReason: d.reason }),
  createdAt: new Date(d.createdAt).toISOString(), finishedAt: new Date(d.failedAt).toISOString()
})

export const idempotentJobId = (tenantId: string, key: string) =>
  `${tenantId}.idem-${createHash("sha256").update(key).digest("hex").slice(0, 32)}`

const unavailable = (what: string) =>
  new ServiceUnavailable({ message: `ingestion is unavailable: ${what}; retry later`, retryAfterSeconds: 2 })

const makeIngestQueue = Effect.gen(function* () {
  const redis = yield* RedisConnection
  const queue = yield* makeQueue("ingest")
  const { maxBacklog } = yield* AppConfig
  const backlog = yield* Ref.make(0)
  const telemetry = yield* Telemetry
  const observeDepth = (result: ObservableResult) => result.observe(Ref.get(backlog).pipe(Effect.runSync), { queue: "ingest" })
  telemetry.queueDepth.addCallback(observeDepth)
  yield* Effect.addFinalizer(() => Effect.sync(() => telemetry.queueDepth.removeCallback(observeDepth)))
  // Backlog is sampled, not counted per request: one Redis round trip a second instead of one per request.
  yield* Effect.tryPromise(() => queue.getJobCountByTypes("wait", "prioritized", "delayed")).pipe(
    Effect.flatMap((n) => Ref.set(backlog, n)),
    Effect.ignore,
    Effect.repeat(Schedule.spaced(Duration.seconds(1))),
    Effect.forkScoped
  )
  const key = (...parts: ReadonlyArray<string>) => `{${redis.prefix}}:${parts.join(":")}`

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
      // The job contract has no transformations (its encoded form is its type), and the worker decodes
      // it again on dequeue: encoding here would only copy every point once more.
      const data: IngestJobEncoded = job
      yield* Effect.tryPromise({
        try: () => queue.add(job._tag, data, { jobId }),
        catch: (e) => unavailable(`queue write failed (${e instanceof Error ? e.message : String(e)})`)
      }).pipe(Effect.timeoutFail({ duration: Duration.seconds(2), onTimeout: () => unavailable("queue write timed out") }))
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
    const marker = key("idem", tenantId, createHash("sha256").update(idempotencyKey).digest("hex"))
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
      : Effect.tryPromise({ try: f, catch: (e) => unavailable(`Redis: ${e instanceof Error ? e.message : String(e)}`) })

  /** The next sequence number of an execution's start/update/finish; None if the execution is unknown here. */
  const nextSeq = (tenantId: string, traceId: string, ttlSeconds: number) => {
    const k = key("seq", tenantId, traceId)
    return redisCall(() =>
      redis.client.eval(
        "if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end local n = redis.call('INCR', KEYS[1]) redis.call('EXPIRE', KEYS[1], ARGV[1]) return n",
        1, k, ttlSeconds
      )
    ).pipe(Effect.map((n) => (Number(n) < 0 ? Option.none<number>() : Option.some(Number(n)))))
  }

  /** Starts (or, from the database's last applied sequence, resumes) an execution's counter. */
  const initSeq = (tenantId: string, traceId: string, value: number, ttlSeconds: number) =>
    redisCall(() => redis.client.set(key("seq", tenantId, traceId), String(value), "EX", ttlSeconds, "NX")).pipe(
      Effect.map((r) => r === "OK")
    )

  const dropSeq = (tenantId: string, traceId: string) =>
    redisCall(() => redis.client.del(key("seq", tenantId, traceId))).pipe(Effect.ignore)

  const getJob = (tenantId: string, jobId: string) =>
    Effect.gen(function* () {
      if (!jobId.startsWith(`${tenantId}.`)) return Option.none<JobInfo>()
      const job = yield* redisCall(() => queue.getJob(jobId))
      if (job === undefined || job === null) {
        // Completed jobs leave the queue within minutes (batches are large); their record stays a day.
        const done = yield* redisCall(() => redis.client.get(jobDoneKey(redis.prefix, jobId)))
        if (done === null) return Option.none<JobInfo>()
        const d = JSON.parse(done) as { kind: string; attempts: number; createdAt: number; finishedAt: number }
        return Option.some<JobInfo>({
          jobId, kind: d.kind, state: "completed", attempts: d.attempts,
          createdAt: new Date(d.createdAt).toISOString(), finishedAt: new Date(d.finishedAt).toISOString()
        })
      }
      const state = yield* redisCall(() => job.getState())
      return Option.some(jobInfo(job, state))
    })

  /** The tenant's dead-lettered jobs, newest first, from its index alone. */
  const listFailed = (tenantId: string, limit: number) =>
    Effect.gen(function* () {
      const ids = yield* redisCall(() => redis.client.zrevrange(deadLetterKey(redis.prefix, tenantId), 0, limit - 1))
      if (ids.length === 0) return []
      const records = yield* redisCall(() => redis.client.hmget(deadLetterInfoKey(redis.prefix, tenantId), ...ids))
      return ids.flatMap((id, i) => {
        const r = records[i]
        return r === null || r === undefined ? [] : [deadLetterInfo(id, JSON.parse(r) as DeadLetter)]
      })
    })

  const forget = (tenantId: string, jobId: string) =>
    redisCall(() => redis.client.multi().zrem(deadLetterKey(redis.prefix, tenantId), jobId).hdel(deadLetterInfoKey(redis.prefix, tenantId), jobId).exec())

  /**
   * Runs a dead-lettered job again with a fresh retry budget. NotFound: not the tenant's, or gone;
   * Conflict: the job is not failed (waiting, running, done).
   */
  const retry = (tenantId: string, jobId: string) =>
    Effect.gen(function* () {
      const notFound = new NotFound({ message: `job ${jobId} not found` })
      if (tenantOfJob(jobId) !== tenantId) return yield* notFound
      const job = yield* redisCall(() => queue.getJob(jobId))
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

  return { submit, idempotent, nextSeq, initSeq, dropSeq, getJob, listFailed, retry, queue } as const
})

const jobInfo = (job: Job, state: string): JobInfo => ({
  jobId: job.id ?? "",
  kind: job.name,
  state,
  attempts: job.attemptsMade,
  ...(job.failedReason ? { failedReason: shortReason(job.failedReason) } : {}),
  createdAt: new Date(job.timestamp).toISOString(),
  ...(job.finishedOn ? { finishedAt: new Date(job.finishedOn).toISOString() } : {})
})

export class IngestQueue extends Context.Tag("ingest/IngestQueue")<IngestQueue, Effect.Effect.Success<typeof makeIngestQueue>>() {
  static readonly Live = Layer.scoped(IngestQueue, makeIngestQueue)
}
