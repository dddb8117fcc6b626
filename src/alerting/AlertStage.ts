import { DelayedError } from "bullmq"
import type { Job } from "bullmq"
import { Data, Duration, Effect, Layer } from "effect"
import type { UnknownException } from "effect/Cause"
import { AppConfig } from "../config/AppConfig.ts"
import { Db } from "../db/Db.ts"
import { ExecutionFacts } from "../executions/ExecutionFacts.ts"
import { AlertJob } from "../domain/pipeline.ts"
import type { TenantSettings } from "../domain/settings.ts"
import { makeProducer, runWorker } from "../queues/Queues.ts"
import { sweep } from "../queues/sweep.ts"
import { TenantStore } from "../tenants/TenantStore.ts"
import { Telemetry } from "../telemetry/Telemetry.ts"
import { AlertRows, applyAllPending } from "./alertRows.ts"
import { hash } from "./evaluation.ts"
import { LOOPS_OF_STORED_SQL } from "../ingest/genai/loops.ts"
import { markDispatched, notification, recordDelivery, recordEvent, tenantsWith, undispatched } from "./outboxRows.ts"
import { deliverToChannel, wantsEvent } from "./channels.ts"
import type { Channel } from "./channels.ts"
import { classifyStatus, nextDelay } from "./webhook.ts"
import { evaluateBudgets } from "./budgets.ts"

// The alert stage's wiring: the worker, per-tenant delivery slots, the fan-out to channels and the
// sweeps. The policy is pure (policy.ts, evaluation.ts); the SQL is in alertRows.ts and outboxRows.ts.

/** A delivery attempt to retry later (BullMQ back-off), honouring the endpoint's Retry-After. */
class RetryDelivery extends Data.TaggedError("RetryDelivery")<{ readonly message: string; readonly retryAfterMs?: number }> {}

export const DELIVERY_ATTEMPTS = 6

/** Completion notices are opt-in: only channels that list the event get them. */
const OPT_IN = new Set(["execution_completed"])
const wants = (c: Channel, eventType: string) => (OPT_IN.has(eventType) ? c.events?.includes(eventType) === true && wantsEvent(c, eventType) : wantsEvent(c, eventType))

const policyOf = (settings: TenantSettings) => ({ cooldownMs: settings.alerting.cooldownSeconds * 1000, resolveAfterWindows: settings.alerting.resolveAfterWindows })

const makeStage = (concurrency: number) =>
  Effect.gen(function* () {
    const db = yield* Db
    const facts = yield* ExecutionFacts
    const store = yield* TenantStore
    const config = yield* AppConfig
    const telemetry = yield* Telemetry
    const queue = yield* makeProducer("alert", AlertJob)
    const pendingRows = yield* AlertRows

    /** Fans recorded notifications out as one delivery job per (notification, channel), then marks them dispatched. */
    const dispatch = (tenantId: string, olderThanSeconds = 0) =>
      Effect.gen(function* () {
        const pending = yield* undispatched(db, tenantId, olderThanSeconds)
        if (pending.length === 0) return
        const settings = yield* store.getSettings(tenantId)
        const jobs = pending.flatMap((n) =>
          settings.channels.filter((c) => wants(c, n.event_type)).map((c) => ({
            name: "deliver",
            job: { _tag: "deliver" as const, tenantId, messageId: n.message_id, channelId: c.id },
            opts: { jobId: `${tenantId}.dl-${hash(`${n.message_id}|${c.id}`)}`, attempts: DELIVERY_ATTEMPTS, backoff: { type: "custom" } }
          }))
        )
        if (jobs.length > 0) yield* queue.addBulk(jobs)
        yield* markDispatched(db, tenantId, pending.map((n) => n.message_id))
      })

    // Per-tenant share of this process's delivery slots: a tenant whose endpoint is slow or dead
    // waits for its own slots and never holds everyone else's.
    const inFlight = new Map<string, number>()
    const PER_TENANT = 2
    const withTenantSlot = <A, E, R>(tenantId: string, job: Job, token: string | undefined, body: Effect.Effect<A, E, R>) =>
      Effect.suspend((): Effect.Effect<A, E | UnknownException | DelayedError, R> => {
        if ((inFlight.get(tenantId) ?? 0) >= PER_TENANT) {
          return Effect.tryPromise(() => job.moveToDelayed(Date.now() + 200 + Math.floor(Math.random() * 200), token)).pipe(
            Effect.zipRight(Effect.fail(new DelayedError()))
          )
        }
        inFlight.set(tenantId, (inFlight.get(tenantId) ?? 0) + 1)
        return body.pipe(Effect.ensuring(Effect.sync(() => inFlight.set(tenantId, (inFlight.get(tenantId) ?? 1) - 1))))
      })

    const deliver = (tenantId: string, messageId: string, channelId: string, attemptNo: number) =>
      Effect.gen(function* () {
        const n = yield* notification(db, tenantId, messageId)
        const settings = yield* store.getSettings(tenantId)
        const channel = settings.channels.find((c) => c.id === channelId)
        if (n === undefined || channel === undefined || !wants(channel, n.event_type)) return
        const result = yield* deliverToChannel({ tenantId, channel, messageId, payload: n.payload, allowPrivate: config.allowPrivateWebhooks, maxAttempts: 1, timeoutMs: 5000 })
        const attempt = result.attempts[0]
        const retryable = result.outcome === "failed" && attempt !== undefined && (attempt.statusCode === null || classifyStatus(attempt.statusCode) === "retry")
        const last = attemptNo >= DELIVERY_ATTEMPTS
        const outcome = retryable && !last ? "retrying" : result.outcome
        yield* recordDelivery(db, { tenantId, alertId: n.alert_id ?? "", channelId, eventType: n.event_type, messageId, attemptNo, outcome, attempt })
        telemetry.alertsSent.add(1, { channel: channel.type, outcome })
        if (result.outcome === "gone") yield* disableChannel(tenantId, channelId)
        if (outcome === "retrying") {
          return yield* new RetryDelivery({ message: `channel ${channelId}: ${attempt?.error ?? `HTTP ${attempt?.statusCode}`}`, ...(attempt?.retryAfterMs == null ? {} : { retryAfterMs: attempt.retryAfterMs }) })
        }
      })

    // A channel that answered 410 Gone is switched off in the tenant's settings (and stays visible there).
    const disableChannel = (tenantId: string, channelId: string) =>
      Effect.gen(function* () {
        const settings = yield* store.getSettings(tenantId)
        const channels = settings.channels.map((c) => (c.id === channelId && c.type === "webhook" ? { ...c, enabled: false } : c))
        yield* store.putSettings(tenantId, { ...settings, channels }, "api").pipe(Effect.ignore)
        yield* Effect.logWarning(`webhook channel ${channelId} answered 410 Gone and was disabled`).pipe(Effect.annotateLogs({ tenantId }))
      })

    yield* runWorker({
      stage: "alert",
      schema: AlertJob,
      concurrency,
      backoffStrategy: (attemptsMade, err) =>
        err instanceof RetryDelivery && err.retryAfterMs !== undefined ? err.retryAfterMs : nextDelay(attemptsMade, 500, 60_000, undefined, Math.random),
      process: (job, bullJob, token) =>
        Effect.gen(function* () {
          switch (job._tag) {
            case "evaluate": {
              yield* applyAllPending(job.tenantId, policyOf(yield* store.getSettings(job.tenantId)))
              return yield* dispatch(job.tenantId)
            }
            case "event": {
              // The completion notice carries the execution's performance analysis (grade, bottlenecks, baseline).
              const analysis = job.eventType === "execution_completed" ? yield* facts.analysis(job.tenantId, job.key) : null
              // …and its GenAI totals (tokens, cost, LLM and tool calls, agents), null when it made no GenAI call.
              const genai = job.eventType === "execution_completed" ? yield* facts.genaiTotals(job.tenantId, job.key) : undefined
              yield* db.transaction((tx) => recordEvent(tx, job.tenantId, job.eventType, job.key, {
                ...job.payload, ...(analysis === null ? {} : { analysis }), ...(genai === undefined ? {} : { genai })
              }))
              return yield* dispatch(job.tenantId)
            }
            case "budgets": {
              const settings = yield* store.getSettings(job.tenantId)
              const evaluations = yield* evaluateBudgets(db, job.tenantId, settings.budgets, Date.now())
              if (evaluations.length === 0) return
              yield* pendingRows.addPending(job.tenantId, evaluations)
              yield* applyAllPending(job.tenantId, policyOf(settings))
              return yield* dispatch(job.tenantId)
            }
            case "loops": {
              // Recounted once the batches stored beside the one that asked are committed (src/ingest/genai/loops.ts, loopsAndRechecks):
              // a loop found raises the same event, under the same job id, as the ingest stage's.
              const rows = yield* db.query<{ trace_id: string; repeated: string; calls: number }>(
                LOOPS_OF_STORED_SQL, [job.tenantId, job.traceIds, job.fromMs, job.maxRepeatedCalls]
              )
              for (const r of rows) {
                const payload = { executionId: r.trace_id, traceId: r.trace_id, repeated: r.repeated, calls: Number(r.calls), maxRepeatedCalls: job.maxRepeatedCalls }
                yield* queue.add("event", { _tag: "event", tenantId: job.tenantId, eventType: "agent_loop_suspected", key: r.trace_id, payload }, { jobId: `${job.tenantId}.loop-${r.trace_id}` })
              }
              return
            }
            case "deliver":
              return yield* withTenantSlot(job.tenantId, bullJob, token, deliver(job.tenantId, job.messageId, job.channelId, bullJob.attemptsMade + 1))
          }
        }).pipe(Effect.annotateLogs({ tenantId: job.tenantId }), Effect.withSpan(`AlertStage.${job._tag}`))
    })

    // Crash recovery: evaluations whose hand-off job was lost, and notifications never fanned out.
    yield* sweep("evaluation sweep", Duration.seconds(10), tenantsWith(db, "stale evaluations").pipe(
      Effect.flatMap((rows) => Effect.forEach(rows, (r) =>
        queue.add("evaluate", { _tag: "evaluate", tenantId: r.tenant_id }), { discard: true }))
    ))
    // Budgets fall back under as time passes, without new spans: tenants with an exceeded budget are re-evaluated.
    yield* sweep("budget sweep", Duration.seconds(30), tenantsWith(db, "exceeded budgets").pipe(
      Effect.flatMap((rows) => Effect.forEach(rows, (r) =>
        queue.add("budgets", { _tag: "budgets", tenantId: r.tenant_id }), { discard: true }))
    ))
    yield* sweep("notification sweep", Duration.seconds(10), tenantsWith(db, "undispatched notifications").pipe(
      Effect.flatMap((rows) => Effect.forEach(rows, (r) => dispatch(r.tenant_id, 10), { discard: true }))
    ))
  })

export const AlertStage = {
  layer: (concurrency: number) => Layer.scopedDiscard(makeStage(concurrency)).pipe(Layer.provide(AlertRows.Live))
}
