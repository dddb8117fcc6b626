import { Effect, Schema } from "effect"
import { createHash } from "node:crypto"
import { lockCursor } from "../db/cursor.ts"
import type { Queryable } from "../db/Db.ts"
import { EvaluationMsg } from "../domain/pipeline.ts"
import { initialAlertState, step, withAlertId } from "./policy.ts"
import type { Action, AlertState } from "./policy.ts"

// The alert stage's SQL: an evaluation through the (pure) policy of src/alerting/policy.ts, with the
// policy state row, the alert row and the outbox of notifications written in the same transaction.
// The worker, delivery slots and sweeps are in AlertStage.ts.

export const hash = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 24)

export const envelope = (eventType: string, data: Record<string, unknown>) => ({ type: eventType, timestamp: new Date().toISOString(), data })

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

export const PENDING_BATCH = 200
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
