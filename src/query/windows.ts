import { Effect } from "effect"
import type { Queryable } from "../db/Db.ts"
import type { MetricWindowsView, WindowPointView } from "../domain/consoleViews.ts"

export interface WindowsRequest {
  readonly name: string
  readonly service: string | null
  readonly operation: string | null
  readonly fromMs: number
  readonly toMs: number
  readonly limit: number
}

type Packed = readonly [
  seriesKey: string, service: string, operation: string, ws: number, we: number, count: number, mean: number, min: number, max: number,
  p95: number | null, expected: number | null, sd: number | null, z: number | null, sev: number | null
]

/**
 * The closed windows of the metric's series in the range (newest `limit` of them when there are more,
 * `truncated` then), each with what the detector expected before it (EWMA level and sd, null while
 * warming up), its z and the worst anomaly recorded for it by either method.
 */
export const queryWindows = (q: Queryable, tenantId: string, req: WindowsRequest, detector: { zWarning: number; zCritical: number }) =>
  Effect.gen(function* () {
    const values: Array<unknown> = [tenantId, req.name, req.fromMs, req.toMs, req.limit]
    const p = (v: unknown) => `$${values.push(v)}`
    const filter = (alias: string) =>
      (req.service === null ? "" : ` AND ${alias}service_name = ${p(req.service)}`) + (req.operation === null ? "" : ` AND ${alias}operation = ${p(req.operation)}`)
    const range = (alias: string) =>
      `${alias}tenant_id = $1 AND ${alias}metric_name = $2 AND ${alias}window_start >= to_timestamp($3 / 1000.0) AND ${alias}window_start < to_timestamp($4 / 1000.0)`
    const [row] = yield* q.query<{ truncated: boolean; rows: ReadonlyArray<Packed> }>(
      `WITH w AS (
         SELECT m.series_key, m.service_name, m.operation, m.window_start, m.window_end, m.count, m.mean, m.min, m.max, m.p95,
                m.expected, m.sd, m.z, a.sev
         FROM metric_windows m
         LEFT JOIN (
           SELECT series_key, window_start, max(CASE severity WHEN 'critical' THEN 2 ELSE 1 END) AS sev
           FROM anomalies a WHERE ${range("a.")}${filter("a.")} GROUP BY 1, 2
         ) a ON a.series_key = m.series_key AND a.window_start = m.window_start
         WHERE ${range("m.")}${filter("m.")}
         ORDER BY m.window_start DESC, m.series_key LIMIT $5 + 1
       )
       SELECT (SELECT count(*) FROM w) > $5 AS truncated,
              coalesce((SELECT json_agg(json_build_array(series_key, service_name, operation, extract(epoch FROM window_start) * 1000,
                                        extract(epoch FROM window_end) * 1000, count, mean, min, max, p95, expected, sd, z, sev)
                                        ORDER BY series_key, window_start)
                        FROM (SELECT * FROM w ORDER BY window_start DESC, series_key LIMIT $5) x), '[]'::json) AS rows`,
      values
    )
    const series = new Map<string, { seriesKey: string; service: string; operation: string; windows: Array<WindowPointView> }>()
    for (const [seriesKey, service, operation, ws, we, count, mean, min, max, p95, expected, sd, z, sev] of row?.rows ?? []) {
      const s = series.get(seriesKey) ?? { seriesKey, service, operation, windows: [] }
      if (s.windows.length === 0) series.set(seriesKey, s)
      s.windows.push({
        start: new Date(Math.round(Number(ws))).toISOString(),
        end: new Date(Math.round(Number(we))).toISOString(),
        count: Number(count), mean, min, max, p95, expected, sd, z,
        severity: sev === null ? null : sev >= 2 ? "critical" : "warning"
      })
    }
    return {
      name: req.name,
      from: new Date(req.fromMs).toISOString(),
      to: new Date(req.toMs).toISOString(),
      zWarning: detector.zWarning,
      zCritical: detector.zCritical,
      truncated: row?.truncated ?? false,
      series: [...series.values()]
    } satisfies MetricWindowsView
  }).pipe(Effect.withSpan("Windows.query"))
