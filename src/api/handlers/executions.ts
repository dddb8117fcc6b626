import { HttpApiBuilder } from "@effect/platform"
import { DateTime, Duration, Effect, Option, Schedule } from "effect"
import { randomBytes } from "node:crypto"
import { AppConfig } from "../../config/AppConfig.ts"
import { BadRequest, NotFound } from "../../domain/errors.ts"
import { formatTraceParent, parseTraceParent } from "../../domain/ids.ts"
import { genaiAttributeIssues } from "../../ingest/genai/nativeIssues.ts"
import { eventTimes, ExecutionResult, ExecutionUpdate, StartExecutionRequest, timeIssues } from "../../domain/ingest.ts"
import { timeWindow } from "../../domain/limits.ts"
import type { IngestJob } from "../../domain/jobs.ts"
import type { TenantSettings } from "../../domain/settings.ts"
import { IngestQueue } from "../../ingest/IngestQueue.ts"
import { ExecutionReader } from "../../query/ExecutionReader.ts"
import { Quotas } from "../../tenants/Quotas.ts"
import { TenantStore } from "../../tenants/TenantStore.ts"
import { MplpApi } from "../Api.ts"
import { pointsQuota, requireScope } from "../auth.ts"
import { dbUnavailable, readJson, rejectIssues } from "../body.ts"
import { idText } from "../../domain/issues.ts"

const randomHex = (bytes: number) => {
  for (;;) {
    const h = randomBytes(bytes).toString("hex")
    if (!/^0+$/.test(h)) return h
  }
}

/** The sequence counter outlives the trace timeout, so late updates of a timed-out execution still order. */
const seqTtl = (s: TenantSettings) => s.traceTimeoutSeconds * 2 + 3600

const traceOf = (executionId: string) => executionId.slice(0, 32)

interface Parent { readonly traceId: string | null; readonly spanId: string | null; readonly flags: number | null }

/**
 * Where the execution hangs: the body's `traceparent`, else the body's `traceId`/`parentSpanId`, else
 * the request's `traceparent` header. A bad body field is the client's error (400); a bad header is
 * ignored, as W3C trace-context asks of a receiver (the execution then starts its own trace).
 */
const parentOf = (body: typeof StartExecutionRequest.Type, header: string | undefined) => {
  if (body.traceparent !== undefined) {
    const tp = parseTraceParent(body.traceparent)
    if (tp === undefined) {
      const message = "traceparent must be a W3C traceparent: 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>, ids not all zero"
      return Effect.fail(new BadRequest({ message, issues: [{ path: "traceparent", message }] }))
    }
    if ((body.traceId !== undefined && body.traceId !== tp.traceId) || (body.parentSpanId !== undefined && body.parentSpanId !== tp.spanId)) {
      const message = "traceparent names another trace or parent than traceId/parentSpanId; send one of them"
      return Effect.fail(new BadRequest({ message, issues: [{ path: "traceparent", message }] }))
    }
    return Effect.succeed<Parent>(tp)
  }
  if (body.traceId !== undefined) return Effect.succeed<Parent>({ traceId: body.traceId, spanId: body.parentSpanId ?? null, flags: null })
  if (body.parentSpanId !== undefined) {
    const message = "parentSpanId needs the traceId of its trace"
    return Effect.fail(new BadRequest({ message, issues: [{ path: "parentSpanId", message }] }))
  }
  const tp = header === undefined ? undefined : parseTraceParent(header)
  return Effect.succeed<Parent>(tp ?? { traceId: null, spanId: null, flags: null })
}

export const ExecutionsLive = HttpApiBuilder.group(MplpApi, "executions", (handlers) =>
  Effect.gen(function* () {
    const ingest = yield* IngestQueue
    const store = yield* TenantStore
    const reader = yield* ExecutionReader
    const quotas = yield* Quotas
    const { maxBodyBytes, eventMaxAgeSeconds, eventMaxFutureSeconds } = yield* AppConfig

    const settingsOf = (tenantId: string) => store.getSettings(tenantId).pipe(Effect.orDie)

    const notFound = (traceId: string) => new NotFound({ message: `execution ${idText(traceId)} not found` })

    const nextSeq = (tenantId: string, executionId: string, ttl: number) =>
      Effect.gen(function* () {
        const s = yield* ingest.nextSeq(tenantId, executionId, ttl)
        if (Option.isSome(s)) return s.value
        const last = yield* reader.lastSeq(tenantId, executionId)
        if (Option.isSome(last)) {
          yield* ingest.initSeq(tenantId, executionId, last.value, ttl)
          const again = yield* ingest.nextSeq(tenantId, executionId, ttl)
          return Option.isSome(again) ? again.value : yield* notFound(executionId)
        }
        // A start sent in the same burst may not have registered yet: give it a moment before a 404.
        return yield* ingest.nextSeq(tenantId, executionId, ttl).pipe(
          Effect.flatMap(Option.match({ onNone: () => Effect.fail(notFound(executionId)), onSome: Effect.succeed })),
          Effect.retry({ schedule: Schedule.spaced(Duration.millis(50)).pipe(Schedule.upTo(Duration.seconds(1))), while: (e) => e instanceof NotFound })
        )
      })

    /**
     * The first execution of a trace goes by the trace id; a later one (an agent's hand-off into the
     * same trace, or a trace whose counter expired while its executions stay) by `<traceId>-<spanId>`.
     * The trace id's counter is claimed atomically, so two starts never both take it.
     */
    const claimExecutionId = (tenantId: string, traceId: string, spanId: string, knownTrace: boolean, ttl: number) =>
      Effect.gen(function* () {
        const taken = knownTrace && (yield* reader.traceHasExecution(tenantId, traceId))
        if (!taken && (yield* ingest.initSeq(tenantId, traceId, 1, ttl))) return traceId
        const executionId = `${traceId}-${spanId}`
        yield* ingest.initSeq(tenantId, executionId, 1, ttl)
        return executionId
      })

    /**
     * Enqueues an update or finish as the execution's next step. A number taken but not enqueued
     * (backlog over its bound, Redis failing) becomes a no-op step, so the steps after it never wait
     * for it.
     */
    const submitStep = (tenantId: string, executionId: string, ttl: number, jobId: string | undefined, job: (seq: number) => IngestJob) =>
      Effect.gen(function* () {
        const seq = yield* nextSeq(tenantId, executionId, ttl)
        const skip = ingest.submit(
          { _tag: "execution-update", tenantId, receivedAtMs: Date.now(), traceId: traceOf(executionId), executionId, seq, update: {} },
          { ignoreBacklog: true }
        ).pipe(Effect.catchAll((e) => Effect.logWarning(`execution ${executionId}: step ${seq} left unfilled: ${e.message}`)))
        const id = yield* ingest.submit(job(seq), jobId === undefined ? {} : { jobId }).pipe(Effect.onError(() => skip))
        return { jobId: id }
      })

    const chargePoints = pointsQuota(store, quotas)

    return handlers
      .handleRaw("start", ({ headers }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("ingest")
          const body = yield* readJson(StartExecutionRequest, maxBodyBytes)
          yield* rejectIssues(genaiAttributeIssues(body.tags, "tags"))
          const parent = yield* parentOf(body, headers.traceparent)
          const settings = yield* settingsOf(p.tenantId)
          return yield* ingest.idempotent(p.tenantId, headers["idempotency-key"], (jobId) =>
            Effect.gen(function* () {
              const traceId = parent.traceId ?? randomHex(16)
              const spanId = randomHex(8)
              const now = Date.now()
              const executionId = yield* claimExecutionId(p.tenantId, traceId, spanId, parent.traceId !== null, seqTtl(settings))
              const traceFlags = body.traceFlags ?? parent.flags ?? 1
              const request = { ...body, traceFlags }
              yield* ingest.submit(
                { _tag: "execution-start", tenantId: p.tenantId, receivedAtMs: now, traceId, executionId, spanId, parentSpanId: parent.spanId, startTimeMs: now, request },
                jobId === undefined ? {} : { jobId }
              ).pipe(Effect.tapError(() => ingest.dropSeq(p.tenantId, executionId)))
              return {
                executionId, traceId, spanId, traceparent: formatTraceParent(traceId, spanId, traceFlags),
                status: "active" as const, startTime: DateTime.formatIso(DateTime.unsafeMake(now))
              }
            })
          )
        }).pipe(dbUnavailable)
      )
      .handleRaw("update", ({ headers, path }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("ingest")
          const update = yield* readJson(ExecutionUpdate, maxBodyBytes)
          yield* rejectIssues(timeIssues(timeWindow(Date.now(), eventMaxAgeSeconds, eventMaxFutureSeconds), eventTimes(update)))
          const settings = yield* settingsOf(p.tenantId)
          yield* chargePoints(p.tenantId, Object.keys(update.metrics ?? {}).length + (update.events?.length ?? 0))
          return yield* ingest.idempotent(p.tenantId, headers["idempotency-key"], (jobId) =>
            submitStep(p.tenantId, path.executionId, seqTtl(settings), jobId, (seq) => (
              { _tag: "execution-update", tenantId: p.tenantId, receivedAtMs: Date.now(), traceId: traceOf(path.executionId), executionId: path.executionId, seq, update }
            ))
          )
        }).pipe(dbUnavailable)
      )
      .handleRaw("finish", ({ headers, path }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("ingest")
          const result = yield* readJson(ExecutionResult, maxBodyBytes)
          const settings = yield* settingsOf(p.tenantId)
          yield* chargePoints(p.tenantId, Object.keys(result.finalMetrics ?? {}).length)
          return yield* ingest.idempotent(p.tenantId, headers["idempotency-key"], (jobId) =>
            submitStep(p.tenantId, path.executionId, seqTtl(settings), jobId, (seq) => (
              { _tag: "execution-finish", tenantId: p.tenantId, receivedAtMs: Date.now(), traceId: traceOf(path.executionId), executionId: path.executionId, seq, result }
            ))
          )
        }).pipe(dbUnavailable)
      )
      .handle("get", ({ path }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("query")
          const found = yield* reader.detail(p.tenantId, path.executionId)
          return yield* Option.match(found, {
            onNone: () => Effect.fail(new NotFound({ message: `execution ${idText(path.executionId)} not found` })),
            onSome: Effect.succeed
          })
        }).pipe(dbUnavailable)
      )
  })
)
