import { Effect, Option } from "effect"
import { acknowledge, isAlertState } from "../domain/alertState.ts"
import { lockCursor } from "../db/cursor.ts"
import type { DbClient, Queryable } from "../db/Db.ts"

export type AlertRow = {
  id: string; series_key: string; rule: string; type: string; state: string; severity: string; metric_name: string | null
  service_name: string | null; trace_id: string | null; title: string; observed: number | null; expected: number | null
  peak: number | null; occurrences: number; opened_at: Date; last_seen_at: Date; acknowledged_at: Date | null
  resolved_at: Date | null; details: Record<string, unknown>
}

const iso = (d: Date | string) => new Date(d).toISOString()
const isoOrNull = (d: Date | string | null) => (d === null ? null : iso(d))

export const alertView = (r: AlertRow) => ({
  id: r.id,
  seriesKey: r.series_key,
  rule: r.rule,
  type: r.type,
  state: r.state,
  severity: r.severity,
  metricName: r.metric_name,
  serviceName: r.service_name,
  traceId: r.trace_id,
  title: r.title,
  observed: r.observed,
  expected: r.expected,
  peak: r.peak,
  occurrences: Number(r.occurrences),
  openedAt: iso(r.opened_at),
  lastSeenAt: iso(r.last_seen_at),
  acknowledgedAt: isoOrNull(r.acknowledged_at),
  resolvedAt: isoOrNull(r.resolved_at),
  details: r.details
})

export const COLUMNS = `id, series_key, rule, type, state, severity, metric_name, service_name, trace_id, title, observed, expected, peak,
  occurrences, opened_at, last_seen_at, acknowledged_at, resolved_at, details`

/** The tenant's alerts, most recently opened first. */
export const listAlerts = (q: Queryable, tenantId: string, states: ReadonlyArray<string> | null, limit: number) =>
  q.query<AlertRow>(
    `SELECT ${COLUMNS} FROM alerts WHERE tenant_id = $1 ${states === null ? "" : "AND state = ANY($3::text[])"}
     ORDER BY opened_at DESC, id LIMIT $2`,
    states === null ? [tenantId, limit] : [tenantId, limit, states]
  ).pipe(Effect.map((rows) => ({ alerts: rows.map(alertView) })), Effect.withSpan("Alerts.list"))

export type AckOutcome =
  | { readonly _tag: "NotFound" }
  | { readonly _tag: "Resolved" }
  | { readonly _tag: "Acknowledged"; readonly alert: ReturnType<typeof alertView> }

/**
 * Acknowledges the alert row and its policy state in one transaction. The tenant's alert-stage cursor
 * is locked first, as the alert stage does, so an acknowledgement never interleaves with (or deadlocks
 * against) an evaluation of the same tenant; the policy then stops reminders for this alert.
 */
export const acknowledgeAlert = (db: DbClient, tenantId: string, alertId: string) =>
  db.transaction((tx) =>
    Effect.gen(function* () {
      yield* lockCursor(tx, tenantId, "alert")
      const found = yield* tx.query<AlertRow>(`SELECT ${COLUMNS} FROM alerts WHERE tenant_id = $1 AND id = $2`, [tenantId, alertId])
      const alert = found[0]
      if (alert === undefined) return { _tag: "NotFound" } satisfies AckOutcome
      if (alert.state === "resolved") return { _tag: "Resolved" } satisfies AckOutcome
      const policy = yield* tx.query<{ state: unknown }>(
        "SELECT state FROM alert_policy_state WHERE tenant_id = $1 AND series_key = $2 AND rule = $3 FOR UPDATE", [tenantId, alert.series_key, alert.rule]
      )
      const before = Option.filter(Option.fromNullable(policy[0]?.state), isAlertState)
      if (Option.isSome(before) && before.value.status !== "ok" && (before.value.alertId === undefined || before.value.alertId === alertId)) {
        yield* tx.query(
          "UPDATE alert_policy_state SET state = $4::jsonb, updated_at = now() WHERE tenant_id = $1 AND series_key = $2 AND rule = $3",
          [tenantId, alert.series_key, alert.rule, JSON.stringify(acknowledge(before.value))]
        )
      }
      const updated = yield* tx.query<AlertRow>(
        `UPDATE alerts SET state = 'acknowledged', acknowledged_at = coalesce(acknowledged_at, now())
         WHERE tenant_id = $1 AND id = $2 RETURNING ${COLUMNS}`, [tenantId, alertId]
      )
      const row = updated[0] ?? alert
      return { _tag: "Acknowledged", alert: alertView(row) } satisfies AckOutcome
    })
  ).pipe(Effect.withSpan("Alerts.acknowledge"))
