import { Clock, Context, Effect, Layer, Schema } from "effect"
import { Db } from "../db/Db.ts"
import { lockCursor } from "../db/cursor.ts"
import type { Queryable } from "../db/Db.ts"
import { EvaluationMsg } from "../domain/pipeline.ts"
import { eventTypeOf, planEvaluation, titleOf } from "./evaluation.ts"
import type { Action, AlertState } from "./policy.ts"
import { initialAlertState } from "./policy.ts"
import { currentTraceparent, linkProducers } from "../telemetry/traceContext.ts"
import { memoryAlertRows } from "./memoryAlertRows.ts"

// The alert stage's SQL: an evaluation's plan (src/alerting/evaluation.ts, pure) written with the
// policy state row, the alert row and the outbox of notifications in the same transaction.
// The worker, delivery slots and sweeps are in AlertStage.ts; the in-memory twin in memoryAlertRows.ts.

/**
 * One evaluation through the alert policy, in one transaction: the policy state row is locked, the
 * alert row and the notifications (outbox) are written with it. A replayed window is a no-op.
 */
const applyEvaluation = (tx: Queryable, tenantId: string, policy: { cooldownMs: number; resolveAfterWindows: number }, ev: EvaluationMsg, nowMs: number) =>
  Effect.gen(function* () {
    const rows = yield* tx.query<{ state: AlertState }>(
      "SELECT state FROM alert_policy_state WHERE tenant_id = $1 AND series_key = $2 AND rule = $3 FOR UPDATE", [tenantId, ev.seriesKey, ev.rule]
    )
    const plan = planEvaluation(tenantId, policy, rows[0]?.state ?? initialAlertState, ev, nowMs)
    for (const w of plan.writes) yield* writeAlert(tx, tenantId, w.alertId, w.action, ev)
    for (const n of plan.notifications) {
      yield* tx.query(
        `INSERT INTO alert_notifications (tenant_id, message_id, alert_id, event_type, payload) VALUES ($1, $2, $3, $4, $5::jsonb)
         ON CONFLICT DO NOTHING`, [tenantId, n.messageId, n.alertId, n.eventType, JSON.stringify(n.payload)]
      )
    }
    yield* tx.query(
      `INSERT INTO alert_policy_state (tenant_id, series_key, rule, state) VALUES ($1, $2, $3, $4::jsonb)
       ON CONFLICT (tenant_id, series_key, rule) DO UPDATE SET state = excluded.state, updated_at = now()`,
      [tenantId, ev.seriesKey, ev.rule, JSON.stringify(plan.state)]
    )
    return plan.notifications.length
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
           last_notified_at = CASE WHEN $5 THEN now() ELSE last_notified_at END, last_window_start = to_timestamp($6 / 1000.0),
           -- A budget's title says what was spent and which level it passed: the latest, unless it would
           -- say "warning" of an alert that stays critical (severity never steps down while open).
           title = CASE WHEN $4 = 'critical' OR severity <> 'critical' THEN $7 ELSE title END
         WHERE tenant_id = $1 AND id = $2`,
        [tenantId, alertId, ev.value, ev.severity, action._tag !== "Fold", ev.windowStartMs, titleOf(ev)]
      )
  }
}

export const PENDING_BATCH = 200
const decodeEvaluations = Schema.decodeUnknownSync(Schema.Array(EvaluationMsg))

/** The tenant's pending evaluations through the policy, in the order detection produced them, exactly once. */
const applyPending = (tx: Queryable, tenantId: string, policy: { cooldownMs: number; resolveAfterWindows: number }, now: number) =>
  Effect.gen(function* () {
    yield* lockCursor(tx, tenantId, "alert")
    const rows = yield* tx.query<{ id: number; payload: unknown; traceparent: string | null }>(
      `SELECT id, payload, traceparent FROM pending_evaluations WHERE tenant_id = $1 ORDER BY id LIMIT ${PENDING_BATCH}`, [tenantId]
    )
    for (const r of rows) {
      for (const ev of decodeEvaluations(r.payload)) yield* applyEvaluation(tx, tenantId, policy, ev, now)
    }
    if (rows.length > 0) yield* tx.query("DELETE FROM pending_evaluations WHERE tenant_id = $1 AND id = ANY($2::int8[])", [tenantId, rows.map((r) => r.id)])
    return { taken: rows.length, traceparents: rows.map((r) => r.traceparent) }
  })

export type AlertPolicy = { readonly cooldownMs: number; readonly resolveAfterWindows: number }
export interface PendingTaken {
  readonly taken: number
  /** The trace context each taken batch was queued in (null: queued outside a trace). */
  readonly traceparents: ReadonlyArray<string | null>
}

export class AlertRows extends Context.Tag("alerting/AlertRows")<AlertRows, {
  /** Queues evaluations for the tenant with the current trace context (the detect stage writes its own in its transaction). */
  readonly addPending: (tenantId: string, evaluations: ReadonlyArray<EvaluationMsg>) => Effect.Effect<void, unknown>
  /** Runs a batch of the tenant's pending evaluations through the policy, in order, once: how many batches were taken, and who queued them. */
  readonly applyPending: (tenantId: string, policy: AlertPolicy, nowMs: number) => Effect.Effect<PendingTaken, unknown>
}>() {
  static readonly Live = Layer.effect(AlertRows, Effect.map(Db, (db) => ({
    addPending: (tenantId: string, evaluations: ReadonlyArray<EvaluationMsg>) =>
      Effect.flatMap(currentTraceparent, (traceparent) =>
        db.query("INSERT INTO pending_evaluations (tenant_id, payload, traceparent) VALUES ($1, $2::jsonb, $3)", [tenantId, JSON.stringify(evaluations), traceparent ?? null])
      ).pipe(Effect.asVoid),
    applyPending: (tenantId: string, policy: AlertPolicy, nowMs: number) => db.transaction((tx) => applyPending(tx, tenantId, policy, nowMs))
  })))

  /** In memory (src/alerting/memoryAlertRows.ts), its rows and outbox in AlertRowsMemory. */
  static readonly Test = memoryAlertRows(AlertRows)
}

/**
 * Every pending evaluation of the tenant through the policy, a batch per transaction. The evaluations of
 * several detect jobs are applied by whichever alert job comes first: its span links to each producer.
 */
export const applyAllPending = (tenantId: string, policy: AlertPolicy) =>
  Effect.gen(function* () {
    const rows = yield* AlertRows
    for (;;) {
      const { taken, traceparents } = yield* rows.applyPending(tenantId, policy, yield* Clock.currentTimeMillis)
      yield* linkProducers(traceparents)
      if (taken < PENDING_BATCH) return
    }
  })
