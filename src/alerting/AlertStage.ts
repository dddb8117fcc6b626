import { DelayedError } from "bullmq"
import type { Job } from "bullmq"
import { Data, Duration, Effect, Layer, Option, Schema } from "effect"
import type { UnknownException } from "effect/Cause"
import { createHash } from "node:crypto"
import { AppConfig } from "../config/AppConfig.ts"
import { Db } from "../db/Db.ts"
import { lockCursor } from "../db/cursor.ts"
import { ExecutionFacts } from "../executions/ExecutionFacts.ts"
import type { Queryable } from "../db/Db.ts"
import { AlertJob, EvaluationMsg } from "../domain/pipeline.ts"
import { makeProducer, runWorker } from "../queues/Queues.ts"
import { sweep } from "../queues/sweep.ts"
import { TenantStore } from "../tenants/TenantStore.ts"
import { Telemetry } from "../telemetry/Telemetry.ts"
import { deliverToChannel, wantsEvent } from "./channels.ts"
import type { Channel } from "./channels.ts"
import { initialAlertState, step, withAlertId } from "./policy.ts"
import type { Action, AlertState } from "./policy.ts"
import { classifyStatus, nextDelay } from "./webhook.ts"
import { evaluateBudgets } from "./budgets.ts"

const hash = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 24)

/** A delivery attempt to retry later (BullMQ back-off), honouring the endpoint's Retry-After. */
class RetryDelivery extends Data.TaggedError("RetryDelivery")<{ readonly message: string; readonly retryAfterMs?: number }> {}

export const DELIVERY_ATTEMPTS = 6

const eventTypeOf = (rule: EvaluationMsg["rule"]) => (rule === "anomaly" ? "anomaly_detected" : rule === "budget" ? "budget_exceeded" : "threshold_exceeded")
const titleOf = (ev: EvaluationMsg) =>
  ev.rule === "budget"
    ? `${ev.operation}: $${ev.value.toFixed(4)} spent, ${ev.severity === "critical" ? "over the limit" : "past the warning level"} ($${(ev.threshold ?? 0).toFixed(4)})`
    : `${ev.metricName}${ev.serviceName === "" ? "" : ` of ${ev.serviceName}`}${ev.operation === "" ? "" : ` (${ev.operation})`}: ${ev.rule === "anomaly" ? "anomalous" : "over threshold"}`

interface Notification {
  readonly messageId: string
  readonly alertId: string | null
  readonly eventType: string
  readonly payload: Record<string, unknown>
}

const envelope = (eventType: string, data: Record<string, unknown>) => ({ type: eventType, timestamp: new Date().toISOString(), data })

/**
 * One evaluation through the alert policy, in one transaction: the policy state row is locked, the
 * alert row and the notifications (outbox) are written with it. A replayed window is a no-op.
 */
export const applyEvaluation = (tx: Queryable, tenantId: string, policy: { cooldownMs: number; resolveAfterWindows: number }, ev: EvaluationMsg, nowMs: number) =>
  Effect.gen(function* () {
    const rows = yield* tx.query<{ state: AlertState }>(
      "SELECT state FROM alert_policy_state WHERE tenant_id = $1 AND series_key = $2 AND rule = $3 FOR UPDATE", [tenantId, ev.seriesKey, ev.rule]
    )
    const before = rows[0]?.state ?? initialAlertState
    // A budget is back under as soon as one evaluation says so: its "window" is a rolling sum, not a sample.
    const result = step({ ...policy, renotify: true, ...(ev.rule === "budget" ? { resolveAfterWindows: 1 } : {}) }, before, { ...ev, expected: ev.expected ?? undefined, z: ev.z ?? undefined }, nowMs)
    let state = result.state
    const notifications: Array<Notification> = []
    for (const action of result.actions) {
      const alertId = action._tag === "Open" ? `al_${hash(`${tenantId}|${ev.seriesKey}|${ev.rule}|${ev.windowStartMs}`)}` : before.status === "ok" ? undefined : before.alertId
      if (alertId === undefined) continue
      if (action._tag === "Open") state = withAlertId(state, alertId)
      yield* writeAlert(tx, tenantId, alertId, action, ev)
      if (action._tag === "Fold") continue
      const eventType = action._tag === "Resolve" ? "alert_resolved" : eventTypeOf(ev.rule)
      const messageId = `${alertId}.${action._tag.toLowerCase()}.${ev.windowStartMs}`
      notifications.push({ messageId, alertId, eventType, payload: envelope(eventType, payloadOf(tenantId, alertId, action, ev, state)) })
    }
    for (const n of notifications) {
      yield* tx.query(
        `INSERT INTO alert_notifications (tenant_id, message_id, alert_id, event_type, payload) VALUES ($1, $2, $3, $4, $5::jsonb)
         ON CONFLICT DO NOTHING`, [tenantId, n.messageId, n.alertId, n.eventType, JSON.stringify(n.payload)]
      )
    }
    yield* tx.query(
      `INSERT INTO alert_policy_state (tenant_id, series_key, rule, state) VALUES ($1, $2, $3, $4::jsonb)
       ON CONFLICT (tenant_id, series_key, rule) DO UPDATE SET state = excluded.state, updated_at = now()`,
      [tenantId, ev.seriesKey, ev.rule, JSON.stringify(state)]
    )
    return notifications.length
  })

const payloadOf = (tenantId: string, alertId: string, action: Action, ev: EvaluationMsg, state: AlertState) => ({
  alertId, tenantId, action: action._tag.toLowerCase(),
  state: action._tag === "Resolve" ? "resolved" : state.status === "ok" ? "open" : state.status,
  severity: action._tag === "Resolve" ? null : ev.severity,
  ...(action._tag === "Escalate" ? { previousSeverity: action.from } : {}),
  rule: ev.rule, metric: ev.metricName, service: ev.serviceName, operation: ev.operation, seriesKey: ev.seriesKey,
  observed: ev.value, expected: ev.expected, sd: ev.sd, z: ev.z, threshold: ev.threshold,
  windowStart: new Date(ev.windowStartMs).toISOString(), windowEnd: new Date(ev.windowEndMs).toISOString()
})

const writeAlert = (tx: Queryable, tenantId: string, alertId: string, action: Action, ev: EvaluationMsg) => {
  switch (action._tag) {
    case "Open":
      return tx.query(
        `INSERT INTO alerts (id, tenant_id, series_key, rule, type, state, severity, metric_name, service_name, title, observed, expected,
                             peak, last_window_start, last_notified_at, details)
         VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8, $9, $10, $11, $10, to_timestamp($12 / 1000.0), now(), $13::jsonb)
         ON CONFLICT DO NOTHING`,
        [alertId, tenantId, ev.seriesKey, ev.rule, eventTypeOf(ev.rule), action.severity, ev.metricName, ev.serviceName,
          titleOf(ev),
          ev.value, ev.expected, ev.windowStartMs, JSON.stringify({ operation: ev.operation, z: ev.z, sd: ev.sd, threshold: ev.threshold })]
      )
    case "Resolve":
      return tx.query(
        `UPDATE alerts SET state = 'resolved', resolved_at = now(), last_notified_at = now(), last_window_start = to_timestamp($3 / 1000.0)
         WHERE tenant_id = $1 AND id = $2 AND state <> 'resolved'`, [tenantId, alertId, ev.windowStartMs]
      )
    default:
      return tx.query(
        `UPDATE alerts SET occurrences = occurrences + 1, last_seen_at = now(), observed = $3,
           severity = CASE WHEN $4 = 'critical' THEN 'critical' ELSE severity END,
           peak = CASE WHEN abs($3 - coalesce(expected, 0)) > abs(coalesce(peak, $3) - coalesce(expected, 0)) THEN $3 ELSE peak END,
           last_notified_at = CASE WHEN $5 THEN now() ELSE last_notified_at END, last_window_start = to_timestamp($6 / 1000.0)
         WHERE tenant_id = $1 AND id = $2`,
        [tenantId, alertId, ev.value, ev.severity, action._tag !== "Fold", ev.windowStartMs]
      )
  }
}

/** Completion notices are opt-in: only channels that list the event get them. */
const OPT_IN = new Set(["execution_completed"])
const wants = (c: Channel, eventType: string) => (OPT_IN.has(eventType) ? c.events?.includes(eventType) === true && wantsEvent(c, eventType) : wantsEvent(c, eventType))

const PENDING_BATCH = 200
const decodeEvaluations = Schema.decodeUnknownSync(Schema.Array(EvaluationMsg))

/** The tenant's pending evaluations through the policy, in the order detection produced them, exactly once. */
export const applyPending = (tx: Queryable, tenantId: string, policy: { cooldownMs: number; resolveAfterWindows: number }) =>
  Effect.gen(function* () {
    yield* lockCursor(tx, tenantId, "alert")
    const rows = yield* tx.query<{ id: number; payload: unknown }>(
      `SELECT id, payload FROM pending_evaluations WHERE tenant_id = $1 ORDER BY id LIMIT ${PENDING_BATCH}`, [tenantId]
    )
    const now = Date.now()
    for (const r of rows) {
      for (const ev of decodeEvaluations(r.payload)) yield* applyEvaluation(tx, tenantId, policy, ev, now)
    }
    if (rows.length > 0) yield* tx.query("DELETE FROM pending_evaluations WHERE tenant_id = $1 AND id = ANY($2::int8[])", [tenantId, rows.map((r) => r.id)])
    return rows.length
  })

const makeStage = (concurrency: number) =>
  Effect.gen(function* () {
    const db = yield* Db
    const facts = yield* ExecutionFacts
    const store = yield* TenantStore
    const config = yield* AppConfig
    const telemetry = yield* Telemetry
    const queue = yield* makeProducer("alert", AlertJob)

    /** Fans recorded notifications out as one delivery job per (notification, channel), then marks them dispatched. */
    const dispatch = (tenantId: string, olderThanSeconds = 0) =>
      Effect.gen(function* () {
        const pending = yield* db.query<{ message_id: string; event_type: string }>(
          `SELECT message_id, event_type FROM alert_notifications
           WHERE tenant_id = $1 AND dispatched_at IS NULL AND created_at <= now() - make_interval(secs => $2) ORDER BY created_at LIMIT 1000`,
          [tenantId, olderThanSeconds]
        )
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
        yield* db.query(
          "UPDATE alert_notifications SET dispatched_at = now() WHERE tenant_id = $1 AND message_id = ANY($2::text[])",
          [tenantId, pending.map((n) => n.message_id)]
        )
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
        const rows = yield* db.query<{ alert_id: string | null; event_type: string; payload: Record<string, unknown> }>(
          "SELECT alert_id, event_type, payload FROM alert_notifications WHERE tenant_id = $1 AND message_id = $2", [tenantId, messageId]
        )
        const n = rows[0]
        const settings = yield* store.getSettings(tenantId)
        const channel = settings.channels.find((c) => c.id === channelId)
        if (n === undefined || channel === undefined || !wants(channel, n.event_type)) return
        const result = yield* deliverToChannel({ tenantId, channel, messageId, payload: n.payload, allowPrivate: config.allowPrivateWebhooks, maxAttempts: 1, timeoutMs: 5000 })
        const attempt = result.attempts[0]
        const retryable = result.outcome === "failed" && attempt !== undefined && (attempt.statusCode === null || classifyStatus(attempt.statusCode) === "retry")
        const last = attemptNo >= DELIVERY_ATTEMPTS
        const outcome = retryable && !last ? "retrying" : result.outcome
        yield* db.query(
          `INSERT INTO alert_deliveries (tenant_id, alert_id, channel_id, event_type, message_id, attempt, outcome, status_code, error, duration_ms, attempted_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
          [tenantId, n.alert_id ?? "", channelId, n.event_type, messageId, attemptNo, outcome, attempt?.statusCode ?? null,
            attempt?.error ?? null, attempt?.durationMs ?? 0, attempt?.startedAt ?? new Date()]
        )
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

    // Events outside the window pipeline. A timed-out execution is an alert of its own (open until acknowledged).
    const event = (tenantId: string, eventType: string, key: string, payload: Record<string, unknown>) =>
      db.transaction((tx) =>
        Effect.gen(function* () {
          const alertId = eventType === "execution_timeout" ? `al_${hash(`timeout|${tenantId}|${key}`)}`
            : eventType === "agent_loop_suspected" ? `al_${hash(`loop|${tenantId}|${key}`)}` : null
          if (eventType === "agent_loop_suspected" && alertId !== null) {
            yield* tx.query(
              `INSERT INTO alerts (id, tenant_id, series_key, rule, type, state, severity, service_name, trace_id, title, observed, details, last_notified_at)
               VALUES ($1, $2, $3, 'loop', 'agent_loop_suspected', 'open', 'warning', '', $4, $5, $6, $7::jsonb, now()) ON CONFLICT DO NOTHING`,
              [alertId, tenantId, `loop|${key}`, key, `execution ${key}: ${String(payload.repeated ?? "a call")} repeated ${String(payload.calls ?? "")} times (more than ${String(payload.maxRepeatedCalls ?? "")})`,
                Number(payload.calls ?? 0), JSON.stringify(payload)]
            )
          } else if (alertId !== null) {
            yield* tx.query(
              `INSERT INTO alerts (id, tenant_id, series_key, rule, type, state, severity, service_name, trace_id, title, details, last_notified_at)
               VALUES ($1, $2, $3, 'timeout', 'execution_timeout', 'open', 'warning', $4, $5, $6, $7::jsonb, now()) ON CONFLICT DO NOTHING`,
              [alertId, tenantId, `execution|${key}`, String(payload.serviceName ?? ""), key,
                `execution ${String(payload.operationName ?? key)} of ${String(payload.serviceName ?? "")} timed out`, JSON.stringify(payload)]
            )
          }
          yield* tx.query(
            `INSERT INTO alert_notifications (tenant_id, message_id, alert_id, event_type, payload) VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT DO NOTHING`,
            [tenantId, `ev_${hash(`${eventType}|${key}`)}`, alertId, eventType, JSON.stringify(envelope(eventType, { tenantId, ...(alertId === null ? {} : { alertId }), ...payload }))]
          )
        })
      )

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
              const settings = yield* store.getSettings(job.tenantId)
              const policy = { cooldownMs: settings.alerting.cooldownSeconds * 1000, resolveAfterWindows: settings.alerting.resolveAfterWindows }
              for (;;) {
                const n = yield* db.transaction((tx) => applyPending(tx, job.tenantId, policy))
                if (n < PENDING_BATCH) break
              }
              return yield* dispatch(job.tenantId)
            }
            case "event": {
              // The completion notice carries the execution's performance analysis (grade, bottlenecks, baseline).
              const analysis = job.eventType === "execution_completed" ? yield* facts.analysis(job.tenantId, job.key) : null
              // …and its GenAI totals (tokens, cost, LLM and tool calls, agents), null when it made no GenAI call.
              const genai = job.eventType === "execution_completed" ? yield* facts.genaiTotals(job.tenantId, job.key) : undefined
              yield* event(job.tenantId, job.eventType, job.key, {
                ...job.payload, ...(analysis === null ? {} : { analysis }), ...(genai === undefined ? {} : { genai })
              })
              return yield* dispatch(job.tenantId)
            }
            case "budgets": {
              const settings = yield* store.getSettings(job.tenantId)
              const evaluations = yield* evaluateBudgets(db, job.tenantId, settings.budgets, Date.now())
              if (evaluations.length === 0) return
              yield* db.query("INSERT INTO pending_evaluations (tenant_id, payload) VALUES ($1, $2::jsonb)", [job.tenantId, JSON.stringify(evaluations)])
              const policy = { cooldownMs: settings.alerting.cooldownSeconds * 1000, resolveAfterWindows: settings.alerting.resolveAfterWindows }
              for (;;) {
                const n = yield* db.transaction((tx) => applyPending(tx, job.tenantId, policy))
                if (n < PENDING_BATCH) break
              }
              return yield* dispatch(job.tenantId)
            }
            case "deliver":
              return yield* withTenantSlot(job.tenantId, bullJob, token, deliver(job.tenantId, job.messageId, job.channelId, bullJob.attemptsMade + 1))
          }
        }).pipe(Effect.annotateLogs({ tenantId: job.tenantId }), Effect.withSpan(`AlertStage.${job._tag}`))
    })

    // Crash recovery: evaluations whose hand-off job was lost, and notifications never fanned out.
    yield* sweep("evaluation sweep", Duration.seconds(10), db.query<{ tenant_id: string }>(
      "SELECT DISTINCT tenant_id FROM pending_evaluations WHERE created_at <= now() - interval '10 seconds'"
    ).pipe(
      Effect.flatMap((rows) => Effect.forEach(rows, (r) =>
        queue.add("evaluate", { _tag: "evaluate", tenantId: r.tenant_id }), { discard: true }))
    ))
    // Budgets fall back under as time passes, without new spans: tenants with an exceeded budget are re-evaluated.
    yield* sweep("budget sweep", Duration.seconds(30), db.query<{ tenant_id: string }>(
      "SELECT DISTINCT tenant_id FROM alert_policy_state WHERE rule = 'budget' AND state ->> 'status' <> 'ok'"
    ).pipe(
      Effect.flatMap((rows) => Effect.forEach(rows, (r) =>
        queue.add("budgets", { _tag: "budgets", tenantId: r.tenant_id }), { discard: true }))
    ))
    yield* sweep("notification sweep", Duration.seconds(10), db.query<{ tenant_id: string }>(
      "SELECT DISTINCT tenant_id FROM alert_notifications WHERE dispatched_at IS NULL AND created_at <= now() - interval '10 seconds'"
    ).pipe(
      Effect.flatMap((rows) => Effect.forEach(rows, (r) => dispatch(r.tenant_id, 10), { discard: true }))
    ))
  })

export const AlertStage = {
  layer: (concurrency: number) => Layer.scopedDiscard(makeStage(concurrency))
}
