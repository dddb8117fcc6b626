import { Effect } from "effect"
import type { Queryable } from "../db/Db.ts"
import type { MetricNamesView } from "../domain/consoleViews.ts"
import { minuteRange } from "./services.ts"

type NameRow = { name: string; service: string; last: number | null; points: number; windowed: boolean }

/**
 * Every metric of the tenant in the range: raw points from metric_points_1m (per minute, so `lastSeen`
 * is the start of the newest minute with points) united with the series the detector has windows for
 * (span-derived `responseTimeMs`/`errorRate` have windows and no raw points; there `lastSeen` is the
 * newest window's start).
 */
export const queryMetricNames = (q: Queryable, tenantId: string, fromMs: number, toMs: number) =>
  Effect.gen(function* () {
    const minutes = minuteRange(fromMs, toMs)
    const rows = yield* q.query<NameRow>(
      `SELECT name, service, (extract(epoch FROM max(last)) * 1000)::float8 AS last, sum(points)::float8 AS points, bool_or(windowed) AS windowed
       FROM (
         SELECT name, service_name AS service, max(bucket) AS last, sum(count) AS points, false AS windowed
         FROM metric_points_1m
         WHERE tenant_id = $1 AND bucket >= to_timestamp($2 / 1000.0) AND bucket < to_timestamp($3 / 1000.0)
         GROUP BY 1, 2
         UNION ALL
         SELECT metric_name, service_name, max(window_start), 0, true
         FROM metric_windows
         WHERE tenant_id = $1 AND window_start >= to_timestamp($4 / 1000.0) AND window_start < to_timestamp($5 / 1000.0)
         GROUP BY 1, 2
       ) u
       GROUP BY name, service ORDER BY name, service`,
      [tenantId, minutes.fromMs, minutes.toMs, fromMs, toMs]
    )
    const byName = new Map<string, { services: Array<string>; last: number | null; points: number; windowed: boolean }>()
    for (const r of rows) {
      const m = byName.get(r.name) ?? { services: [], last: null, points: 0, windowed: false }
      if (m.services.length === 0) byName.set(r.name, m)
      m.services.push(r.service)
      const last = r.last === null ? null : Number(r.last)
      if (last !== null && (m.last === null || last > m.last)) m.last = last
      m.points += Number(r.points)
      m.windowed ||= r.windowed
    }
    return {
      from: new Date(fromMs).toISOString(),
      to: new Date(toMs).toISOString(),
      metrics: [...byName].map(([name, m]) => ({
        name, services: m.services, lastSeen: m.last === null ? null : new Date(m.last).toISOString(), points: m.points, windowed: m.windowed
      }))
    } satisfies MetricNamesView
  }).pipe(Effect.withSpan("MetricNames.query"))
