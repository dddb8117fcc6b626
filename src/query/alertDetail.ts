import { Effect, Option } from "effect"
import type { Queryable } from "../db/Db.ts"
import type { AlertDetailView } from "../domain/consoleViews.ts"
import type { Series } from "../domain/pipeline.ts"
import { COLUMNS, alertView } from "./alerts.ts"
import type { AlertRow } from "./alerts.ts"
import { ANOMALY_COLUMNS, anomalyView } from "./anomalies.ts"
import type { AnomalyRow } from "./anomalies.ts"

const unescapePart = (s: string) => s.replace(/%7C|%25/g, (m) => (m === "%7C" ? "|" : "%"))

/** The inverse of seriesKeyOf: `metric|service|operation`, `|` and `%` escaped inside the parts. */
export const parseSeriesKey = (key: string): Option.Option<Series> => {
  const parts = key.split("|")
  const [metricName, serviceName, operation] = parts
  return parts.length === 3 && metricName !== undefined && serviceName !== undefined && operation !== undefined
    ? Option.some({ metricName: unescapePart(metricName), serviceName: unescapePart(serviceName), operation: unescapePart(operation) })
    : Option.none()
}

const iso = (d: Date | string) => new Date(d).toISOString()
const ANOMALY_LIMIT = 1000

type NotificationRow = { message_id: string; event_type: string; created_at: Date; dispatched_at: Date | null; payload: Record<string, unknown> }
type DeliveryRow = {
  channel_id: string; message_id: string; event_type: string; attempt: number; outcome: string; status_code: number | null
  error: string | null; duration_ms: number | null; attempted_at: Date
}

/**
 * An alert with its whole story: the series it watches (none for event alerts such as
 * execution_timeout), its notifications and their delivery attempts, and the series' anomalies
 * recorded from an hour before it opened until it resolved (or now). Another tenant's id is none.
 */
export const queryAlertDetail = (q: Queryable, tenantId: string, alertId: string) =>
  Effect.gen(function* () {
    const found = yield* q.query<AlertRow & { operation: string | null }>(
      `SELECT ${COLUMNS}, details ->> 'operation' AS operation FROM alerts WHERE tenant_id = $1 AND id = $2`, [tenantId, alertId]
    )
    const alert = found[0]
    if (alert === undefined) return Option.none()
    const series = alert.metric_name === null
      ? null
      : Option.getOrElse(parseSeriesKey(alert.series_key), () => ({
          metricName: alert.metric_name ?? "", serviceName: alert.service_name ?? "", operation: alert.operation ?? ""
        }))
    const notifications = yield* q.query<NotificationRow>(
      `SELECT message_id, event_type, created_at, dispatched_at, payload FROM alert_notifications
       WHERE tenant_id = $1 AND alert_id = $2 ORDER BY created_at, message_id`, [tenantId, alertId]
    )
    const deliveries = yield* q.query<DeliveryRow>(
      `SELECT channel_id, message_id, event_type, attempt, outcome, status_code, error, duration_ms, attempted_at FROM alert_deliveries
       WHERE tenant_id = $1 AND alert_id = $2 ORDER BY attempted_at, channel_id, attempt`, [tenantId, alertId]
    )
    // detected_at is the wall clock, as opened_at and resolved_at are (window times are event time).
    const anomalies = series === null ? [] : yield* q.query<AnomalyRow>(
      `SELECT ${ANOMALY_COLUMNS} FROM anomalies
       WHERE tenant_id = $1 AND series_key = $2 AND detected_at >= $3::timestamptz - interval '1 hour' AND detected_at <= coalesce($4::timestamptz, now())
       ORDER BY window_start, method LIMIT ${ANOMALY_LIMIT}`,
      [tenantId, alert.series_key, alert.opened_at, alert.resolved_at]
    )
    return Option.some({
      alert: alertView(alert),
      series,
      notifications: notifications.map((n) => ({
        messageId: n.message_id, eventType: n.event_type, createdAt: iso(n.created_at),
        dispatchedAt: n.dispatched_at === null ? null : iso(n.dispatched_at), payload: n.payload
      })),
      deliveries: deliveries.map((d) => ({
        channelId: d.channel_id, messageId: d.message_id, eventType: d.event_type, attempt: Number(d.attempt), outcome: d.outcome,
        statusCode: d.status_code, error: d.error, durationMs: d.duration_ms, attemptedAt: iso(d.attempted_at)
      })),
      anomalies: anomalies.map(anomalyView)
    } satisfies AlertDetailView)
  }).pipe(Effect.withSpan("Alerts.detail"))
