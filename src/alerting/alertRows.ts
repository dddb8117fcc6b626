import { Clock, Context, Effect, Layer, Schema } from "effect"
import { Db } from "../db/Db.ts"
import { advanceCursorStatement, cursorVersionStatement, oneAtATime, readWithVersion, versionOf, withCursor } from "../db/cursor.ts"
import { queryInOrderAndCommit } from "../db/Db.ts"
import type { DbClient, Statement } from "../db/Db.ts"
import { EvaluationMsg } from "../domain/pipeline.ts"
import { eventTypeOf, planEvaluation, titleOf } from "./evaluation.ts"
import type { Action, AlertState } from "./policy.ts"
import { initialAlertState } from "./policy.ts"
import { currentTraceparent, linkProducers } from "../telemetry/traceContext.ts"
import { memoryAlertRows } from "./memoryAlertRows.ts"

// The alert stage's SQL: an evaluation's plan (src/alerting/evaluation.ts, pure) written with the
// policy state row, the alert row and the outbox of notifications in the same transaction.
// The worker, delivery slots and sweeps are in AlertStage.ts; the in-memory twin in memoryAlertRows.ts.

const alertWrite = (tenantId: string, alertId: string, action: Action, ev: EvaluationMsg): Statement => {
  switch (action._tag) {
    case "Open":
      return {
        text: `INSERT INTO alerts (id, tenant_id, series_key, rule, type, state, severity, metric_name, service_name, title, observed, expected,
                             peak, last_window_start, last_notified_at, details)
         VALUES ($1, $2, $3, $4, $5, 'open', $6, $7, $8, $9, $10, $11, $10, to_timestamp($12 / 1000.0), now(), $13::jsonb)
         ON CONFLICT DO NOTHING`,
        values: [alertId, tenantId, ev.seriesKey, ev.rule, eventTypeOf(ev.rule), action.severity, ev.metricName, ev.serviceName,
          titleOf(ev),
          ev.value, ev.expected, ev.windowStartMs, JSON.stringify({ operation: ev.operation, z: ev.z, sd: ev.sd, threshold: ev.threshold })]
      }
    case "Resolve":
      return {
        text: `UPDATE alerts SET state = 'resolved', resolved_at = now(), last_notified_at = now(), last_window_start = to_timestamp($3 / 1000.0)
         WHERE tenant_id = $1 AND id = $2 AND state <> 'resolved'`,
        values: [tenantId, alertId, ev.windowStartMs]
      }
    default:
      return {
        text: `UPDATE alerts SET occurrences = occurrences + 1, last_seen_at = now(), observed = $3,
           severity = CASE WHEN $4 = 'critical' THEN 'critical' ELSE severity END,
           peak = CASE WHEN abs($3 - coalesce(expected, 0)) > abs(coalesce(peak, $3) - coalesce(expected, 0)) THEN $3 ELSE peak END,
           last_notified_at = CASE WHEN $5 THEN now() ELSE last_notified_at END, last_window_start = to_timestamp($6 / 1000.0),
           -- A budget's title says what was spent and which level it passed: the latest, unless it would
           -- say "warning" of an alert that stays critical (severity never steps down while open).
           title = CASE WHEN $4 = 'critical' OR severity <> 'critical' THEN $7 ELSE title END
         WHERE tenant_id = $1 AND id = $2`,
        values: [tenantId, alertId, ev.value, ev.severity, action._tag !== "Fold", ev.windowStartMs, titleOf(ev)]
      }
  }
}

export const PENDING_BATCH = 200
const decodeEvaluations = Schema.decodeUnknownSync(Schema.Array(EvaluationMsg))

/**
 * A batch of the tenant's pending evaluations through the alert policy, in the order detection produced
 * them, exactly once: the batch and the policy states it touches are read with the tenant's alert cursor
 * version (readWithVersion: one message to the embedded database's thread), each evaluation is planned
 * (src/alerting/evaluation.ts, pure) on the state the previous one left, and the writes (alert rows, the
 * outbox of notifications, the final states, the batch's removal) go in one transaction that moves the
 * cursor on from the version read (src/db/cursor.ts): a worker another overtook, or an acknowledgement,
 * reads again (withCursor). A replayed window is a no-op.
 */
export const applyPending = (db: DbClient, tenantId: string, policy: { cooldownMs: number; resolveAfterWindows: number }, now: number) => withCursor(
  Effect.gen(function* () {
    const [versionRows, pendingRows, stateRows] = yield* readWithVersion(db, [
      cursorVersionStatement(tenantId, "alert"),
      { text: `SELECT id, payload, traceparent FROM pending_evaluations WHERE tenant_id = $1 ORDER BY id LIMIT ${PENDING_BATCH}`, values: [tenantId] },
      // The states of every series and rule the batch's evaluations name.
      {
        text: `SELECT s.series_key, s.rule, s.state FROM alert_policy_state s
       WHERE s.tenant_id = $1 AND (s.series_key, s.rule) IN (
         SELECT e ->> 'seriesKey', e ->> 'rule'
         FROM (SELECT payload FROM pending_evaluations WHERE tenant_id = $1 ORDER BY id LIMIT ${PENDING_BATCH}) AS p,
              jsonb_array_elements(p.payload) AS e)`,
        values: [tenantId]
      }
    ])
    const rows = (pendingRows ?? []) as ReadonlyArray<{ id: number; payload: unknown; traceparent: string | null }>
    if (rows.length === 0) return { taken: 0, traceparents: [] }
    const evaluations = rows.flatMap((r) => decodeEvaluations(r.payload))
    // Each evaluation on the state the previous one left, from the stored one (or the initial state).
    const keyOf = (seriesKey: string, rule: string) => JSON.stringify([seriesKey, rule])
    const states = new Map<string, { seriesKey: string; rule: string; state: AlertState }>()
    for (const ev of evaluations) states.set(keyOf(ev.seriesKey, ev.rule), { seriesKey: ev.seriesKey, rule: ev.rule, state: initialAlertState })
    const entries = [...states.values()]
    for (const r of (stateRows ?? []) as ReadonlyArray<{ series_key: string; rule: string; state: AlertState }>) {
      const e = states.get(keyOf(r.series_key, r.rule))
      if (e !== undefined) e.state = r.state
    }
    const writes: Array<Statement> = [advanceCursorStatement(tenantId, "alert", versionOf(versionRows))]
    for (const ev of evaluations) {
      const e = states.get(keyOf(ev.seriesKey, ev.rule))!
      const plan = planEvaluation(tenantId, policy, e.state, ev, now)
      for (const w of plan.writes) writes.push(alertWrite(tenantId, w.alertId, w.action, ev))
      for (const n of plan.notifications) {
        writes.push({
          text: `INSERT INTO alert_notifications (tenant_id, message_id, alert_id, event_type, payload) VALUES ($1, $2, $3, $4, $5::jsonb)
         ON CONFLICT DO NOTHING`,
          values: [tenantId, n.messageId, n.alertId, n.eventType, JSON.stringify(n.payload)]
        })
      }
      e.state = plan.state
    }
    // Every entry is the state of a series some evaluation of the batch planned on: all are written back.
    writes.push(
      {
        text: `INSERT INTO alert_policy_state (tenant_id, series_key, rule, state)
         SELECT $1, k.series_key, k.rule, k.state FROM unnest($2::text[], $3::text[], $4::jsonb[]) AS k(series_key, rule, state)
         ON CONFLICT (tenant_id, series_key, rule) DO UPDATE SET state = excluded.state, updated_at = now()`,
        values: [tenantId, entries.map((e) => e.seriesKey), entries.map((e) => e.rule), entries.map((e) => JSON.stringify(e.state))]
      },
      { text: "DELETE FROM pending_evaluations WHERE tenant_id = $1 AND id = ANY($2::int8[])", values: [tenantId, rows.map((r) => r.id)] }
    )
    // The cursor's advance and the writes with the COMMIT: one message to the embedded database's thread.
    yield* db.transaction((tx) => queryInOrderAndCommit(tx, writes))
    return { taken: rows.length, traceparents: rows.map((r) => r.traceparent) }
  })
)

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
  static readonly Live = Layer.effect(AlertRows, Effect.map(Db, (db) => {
    // One batch per tenant at a time in this process (other processes' batches retry, see applyPending).
    const turn = oneAtATime()
    return {
      addPending: (tenantId: string, evaluations: ReadonlyArray<EvaluationMsg>) =>
        Effect.flatMap(currentTraceparent, (traceparent) =>
          db.query("INSERT INTO pending_evaluations (tenant_id, payload, traceparent) VALUES ($1, $2::jsonb, $3)", [tenantId, JSON.stringify(evaluations), traceparent ?? null])
        ).pipe(Effect.asVoid),
      applyPending: (tenantId: string, policy: AlertPolicy, nowMs: number) => turn(tenantId, applyPending(db, tenantId, policy, nowMs))
    }
  }))

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
