import { Effect } from "effect"
import type { Queryable } from "../db/Db.ts"

export type AnomalyRow = {
  series_key: string; metric_name: string; service_name: string; operation: string; method: string
  window_start: Date; window_end: Date; observed: number; expected: number | null; sd: number | null; z: number | null
  threshold: number | null; severity: string; trace_id: string | null; detected_at: Date
}

const iso = (d: Date | string) => new Date(d).toISOString()

export const anomalyView = (r: AnomalyRow) => ({
  seriesKey: r.series_key,
  metricName: r.metric_name,
  serviceName: r.service_name,
  operation: r.operation,
  method: r.method,
  windowStart: iso(r.window_start),
  windowEnd: iso(r.window_end),
  observed: r.observed,
  expected: r.expected,
  sd: r.sd,
  z: r.z,
  threshold: r.threshold,
  severity: r.severity,
  traceId: r.trace_id,
  detectedAt: iso(r.detected_at)
})

export const ANOMALY_COLUMNS =
  "series_key, metric_name, service_name, operation, method, window_start, window_end, observed, expected, sd, z, threshold, severity, trace_id, detected_at"

export interface AnomalySearch {
  readonly fromMs: number
  readonly toMs: number
  readonly severities: ReadonlyArray<string> | null
  readonly metric: string | null
  readonly service: string | null
  readonly limit: number
}

/** Anomalies whose window starts in the range, newest first. */
export const queryAnomalies = (q: Queryable, tenantId: string, s: AnomalySearch) => {
  const values: Array<unknown> = [tenantId, s.fromMs, s.toMs]
  const p = (v: unknown) => `$${values.push(v)}`
  const where = ["tenant_id = $1", "window_start >= to_timestamp($2 / 1000.0)", "window_start < to_timestamp($3 / 1000.0)"]
  if (s.severities !== null) where.push(`severity = ANY(${p(s.severities)}::text[])`)
  if (s.metric !== null) where.push(`metric_name = ${p(s.metric)}`)
  if (s.service !== null) where.push(`service_name = ${p(s.service)}`)
  return q.query<AnomalyRow>(
    `SELECT ${ANOMALY_COLUMNS} FROM anomalies WHERE ${where.join(" AND ")} ORDER BY window_start DESC, series_key, method LIMIT ${p(s.limit)}`,
    values
  ).pipe(Effect.map((rows) => ({ anomalies: rows.map(anomalyView) })), Effect.withSpan("Anomalies.query"))
}
