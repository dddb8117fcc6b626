import { HttpApiBuilder } from "@effect/platform"
import { DateTime, Duration, Effect, Option, Schedule } from "effect"
import { randomBytes } from "node:crypto"
import { AppConfig } from "../../config/AppConfig.ts"
import { Conflict, NotFound } from "../../domain/errors.ts"
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

const randomHex = (bytes: number) => {
  for (;;) {
    const h = randomBytes(bytes).toString("hex")
    if (!/^0+$/.test(h)) return h
  }
}

/** The sequence counter outlives the trace timeout, so late updates of a timed-out execution still order. */
const seqTtl = (s: TenantSettings) => s.traceTimeoutSeconds * 2 + 3600

export const ExecutionsLive = HttpApiBuilder.group(MplpApi, "executions", (handlers) =>
  Effect.gen(function* () {
    const ingest = yield* IngestQueue
    const store = yield* TenantStore
    const reader = yield* ExecutionReader
    const quotas = yield* Quotas
    const { maxBodyBytes, eventMaxAgeSeconds, eventMaxFutureSeconds } = yield* AppConfig

    const settingsOf = (tenantId: string) => store.getSettings(tenantId).pipe(Effect.orDie)

    const notFound = (traceId: string) => new NotFound({ message: `execution ${traceId} not found` })

    const nextSeq = (tenantId: string, traceId: string, ttl: number) =>
      Effect.gen(function* () {
        const s = yield* ingest.nextSeq(tenantId, traceId, ttl)
        if (Option.isSome(s)) return s.value
        const last = yield* reader.lastSeq(tenantId, traceId)
        if (Option.isSome(last)) {
          yield* ingest.initSeq(tenantId, traceId, last.value, ttl)
          const again = yield* ingest.nextSeq(tenantId, traceId, ttl)
          return Option.isSome(again) ? again.value : yield* notFound(traceId)
        }
        // A start sent in the same burst may not have registered yet: give it a moment before a 404.
        return yield* ingest.nextSeq(tenantId, traceId, ttl).pipe(
          Effect.flatMap(Option.match({ onNone: () => Effect.fail(notFound(traceId)), onSome: Effect.succeed })),
          Effect.retry({ schedule: Schedule.spaced(Duration.millis(50)).pipe(Schedule.upTo(Duration.seconds(1))), while: (e) => e instanceof NotFound })
        )
      })

    /**
     * Enqueues an update or finish as the execution's next step. A number taken but not enqueued
     * (backlog over its bound, Redis failing) becomes a no-op step, so the steps after it never wait
     * for it.
     */
    const submitStep = (tenantId: string, traceId: string, ttl: number, jobId: string | undefined, job: (seq: number) => IngestJob) =>
      Effect.gen(function* () {
        const seq = yield* nextSeq(tenantId, traceId, ttl)
        const skip = ingest.submit({ _tag: "execution-update", tenantId, receivedAtMs: Date.now(), traceId, seq, update: {} }, { ignoreBacklog: true }).pipe(
          Effect.catchAll((e) => Effect.logWarning(`execution ${traceId}: step ${seq} left unfilled: ${e.message}`))
        )
        const id = yield* ingest.submit(job(seq), jobId === undefined ? {} : { jobId }).pipe(Effect.onError(() => skip))
        return { jobId: id }
      })

    const chargePoints = pointsQuota(store, quotas)

    return handlers
      .handleRaw("start", ({ headers }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("ingest")
          const body = yield* readJson(StartExecutionRequest, maxBodyBytes)
          const settings = yield* settingsOf(p.tenantId)
          return yield* ingest.idempotent(p.tenantId, headers["idempotency-key"], (jobId) =>
            Effect.gen(function* () {
              const traceId = body.traceId ?? randomHex(16)
              const now = Date.now()
              const fresh = yield* ingest.initSeq(p.tenantId, traceId, 1, seqTtl(settings))
              if (!fresh) return yield* new Conflict({ message: `execution ${traceId} already exists` })
              const spanId = randomHex(8)
              yield* ingest.submit(
                { _tag: "execution-start", tenantId: p.tenantId, receivedAtMs: now, traceId, spanId, parentSpanId: body.parentSpanId ?? null, startTimeMs: now, request: body },
                jobId === undefined ? {} : { jobId }
              ).pipe(Effect.tapError(() => ingest.dropSeq(p.tenantId, traceId)))
              const parent = body.parentSpanId ?? null
              return {
                executionId: parent === null ? traceId : `${traceId}-${spanId}`, traceId, spanId,
                traceparent: `00-${traceId}-${spanId}-${(body.traceFlags ?? 1).toString(16).padStart(2, "0")}`,
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
            submitStep(p.tenantId, path.traceId, seqTtl(settings), jobId, (seq) => (
              { _tag: "execution-update", tenantId: p.tenantId, receivedAtMs: Date.now(), traceId: path.traceId, seq, update }
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
            submitStep(p.tenantId, path.traceId, seqTtl(settings), jobId, (seq) => (
              { _tag: "execution-finish", tenantId: p.tenantId, receivedAtMs: Date.now(), traceId: path.traceId, seq, result }
            ))
          )
        }).pipe(dbUnavailable)
      )
      .handle("get", ({ path }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("query")
          const found = yield* reader.detail(p.tenantId, path.traceId)
          return yield* Option.match(found, {
            onNone: () => Effect.fail(new NotFound({ message: `execution ${path.traceId} not found` })),
            onSome: Effect.succeed
          })
        }).pipe(dbUnavailable)
      )
  })
)
