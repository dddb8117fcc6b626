import { Effect, Schema } from "effect"
import { advanceCursorStatement, cursorVersionStatement, readWithVersion, versionOf, withCursor } from "../db/cursor.ts"
import { queryInOrderAndCommit } from "../db/Db.ts"
import type { DbClient } from "../db/Db.ts"
import type { ClosedWindow, EvaluationMsg } from "../domain/pipeline.ts"
import type { TenantSettings } from "../domain/settings.ts"
import { currentTraceparent } from "../telemetry/traceContext.ts"
import { initial } from "./ewma.ts"
import type { DetectorState } from "./ewma.ts"
import { evaluate } from "./evaluate.ts"

// The detect stage's SQL: closed windows in order through the pure evaluation (evaluate.ts), detector
// states, anomalies, the windows' bands and the alert stage's pending evaluations in one transaction,
// which moves the tenant's detect cursor on from the version read with the windows (src/db/cursor.ts).

const DetectorStateSchema = Schema.Struct({
  mean: Schema.Number, variance: Schema.Number, n: Schema.Number, streak: Schema.Number,
  shadowMean: Schema.Number, shadowVariance: Schema.Number
})
const decodeState = Schema.decodeUnknownSync(DetectorStateSchema)

/** Windows evaluated per transaction; a full batch hands the rest to a fresh job. */
export const DETECT_BATCH = 2000

type WindowRow = {
  series_key: string; metric_name: string; service_name: string; operation: string
  ws: number; we: number; count: number; mean: number; min: number; max: number; p95: number | null
}

/**
 * Evaluates the tenant's closed, not yet evaluated windows in window order: the detector states advance,
 * anomalies are recorded, the windows are marked evaluated and the evaluations queued for the alert
 * policy, in one transaction. Each window is evaluated exactly once, whatever the number of workers or
 * redeliveries: the windows and states are read with the tenant's detect cursor version, without a
 * lock, and the writes move the cursor on from that version (withCursor: a worker that another
 * overtook reads again). So the writing transaction is one message to the embedded database's thread
 * (never holding the database while this thread evaluates) and holds the cursor row only for its
 * writes on a server. Returns how many windows it evaluated.
 */
export const detectPending = (db: DbClient, tenantId: string, settings: TenantSettings) => withCursor(
  Effect.gen(function* () {
    // The cursor version, then the windows and their series' states (the states of every series with a
    // window to evaluate, a superset of the batch's): whatever another worker wrote after the version was
    // read moved the version too, so this attempt's writes would fail (readWithVersion).
    const [versionRows, windowRows, stateRows] = yield* readWithVersion(db, [
      cursorVersionStatement(tenantId, "detect"),
      {
        text: `SELECT series_key, metric_name, service_name, operation, extract(epoch FROM window_start) * 1000 AS ws,
              extract(epoch FROM window_end) * 1000 AS we, count::float8 AS count, mean, min, max, p95
       FROM metric_windows WHERE tenant_id = $1 AND evaluated_at IS NULL ORDER BY window_start, series_key LIMIT ${DETECT_BATCH}`,
        values: [tenantId]
      },
      {
        text: `SELECT series_key, state FROM detector_state
       WHERE tenant_id = $1 AND series_key IN (SELECT series_key FROM metric_windows WHERE tenant_id = $1 AND evaluated_at IS NULL)`,
        values: [tenantId]
      }
    ])
    const rows = (windowRows ?? []) as ReadonlyArray<WindowRow>
    if (rows.length === 0) return 0
    const keys = [...new Set(rows.map((r) => r.series_key))]
    const stored = (stateRows ?? []) as ReadonlyArray<{ series_key: string; state: unknown }>
    const states = new Map<string, DetectorState>(stored.map((r) => [r.series_key, decodeState(r.state)]))
    const evaluations: Array<EvaluationMsg> = []
    // Rows come in window order, so the last one seen per series is its latest window.
    const lastWindow = new Map<string, number>()
    // The detector's expected level, sd and z per window, stored on the window for the console's band.
    const band: Array<EvaluationMsg | undefined> = []
    for (const r of rows) {
      lastWindow.set(r.series_key, Number(r.ws))
      const w: ClosedWindow = {
        seriesKey: r.series_key, metricName: r.metric_name, serviceName: r.service_name, operation: r.operation,
        windowStartMs: Math.round(Number(r.ws)), windowEndMs: Math.round(Number(r.we)), count: Number(r.count), mean: r.mean, min: r.min, max: r.max, p95: r.p95
      }
      const result = evaluate(settings, states.get(w.seriesKey) ?? initial(), w)
      states.set(w.seriesKey, result.state)
      evaluations.push(...result.evaluations)
      band.push(result.evaluations.find((e) => e.rule === "anomaly"))
    }
    const anomalies = evaluations.filter((e) => e.severity !== "none")
    // The writes in one statement (data-modifying CTEs, each run once whether or not it has rows), after
    // the cursor's advance and with the COMMIT: one message to the embedded database's thread.
    // The evaluations are queued with the writing transaction's span (the alert job links to it).
    yield* db.transaction((tx) => Effect.flatMap(currentTraceparent, (traceparent) => queryInOrderAndCommit(tx, [advanceCursorStatement(tenantId, "detect", versionOf(versionRows)), {
      text: `WITH anomalies_in AS (
         INSERT INTO anomalies (tenant_id, series_key, metric_name, service_name, operation, method, window_start, window_end,
                                observed, expected, sd, z, threshold, severity)
         SELECT $1, k, m, s, o, me, to_timestamp(ws / 1000.0), to_timestamp(we / 1000.0), ob, ex, sd, z, th, sv
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::float8[], $9::float8[],
                     $10::float8[], $11::float8[], $12::float8[], $13::float8[], $14::text[])
              AS u(k, m, s, o, me, ws, we, ob, ex, sd, z, th, sv)
         ON CONFLICT DO NOTHING
       ), states AS (
         INSERT INTO detector_state (tenant_id, series_key, state, last_window_start, updated_at)
         SELECT $1, k, s::jsonb, to_timestamp(w / 1000.0), now() FROM unnest($15::text[], $16::text[], $17::float8[]) AS u(k, s, w)
         ON CONFLICT (tenant_id, series_key) DO UPDATE SET state = excluded.state, last_window_start = excluded.last_window_start, updated_at = now()
       ), evaluated AS (
         UPDATE metric_windows m SET evaluated_at = now(), expected = u.ex, sd = u.sd, z = u.z
         FROM unnest($18::text[], $19::float8[], $20::float8[], $21::float8[], $22::float8[]) AS u(k, ws, ex, sd, z)
         WHERE m.tenant_id = $1 AND m.series_key = u.k AND m.window_start = to_timestamp(u.ws / 1000.0)
       )
       INSERT INTO pending_evaluations (tenant_id, payload, traceparent) SELECT $1, $23::jsonb, $24 WHERE $25::boolean`,
      values: [tenantId, anomalies.map((a) => a.seriesKey), anomalies.map((a) => a.metricName), anomalies.map((a) => a.serviceName),
        anomalies.map((a) => a.operation), anomalies.map((a) => (a.rule === "anomaly" ? "ewma_zscore" : "threshold")),
        anomalies.map((a) => a.windowStartMs), anomalies.map((a) => a.windowEndMs), anomalies.map((a) => a.value),
        anomalies.map((a) => a.expected), anomalies.map((a) => a.sd), anomalies.map((a) => a.z), anomalies.map((a) => a.threshold),
        anomalies.map((a) => a.severity),
        keys, keys.map((k) => JSON.stringify(states.get(k))), keys.map((k) => lastWindow.get(k) ?? 0),
        rows.map((r) => r.series_key), rows.map((r) => Number(r.ws)), band.map((e) => e?.expected ?? null),
        band.map((e) => e?.sd ?? null), band.map((e) => e?.z ?? null),
        JSON.stringify(evaluations), traceparent ?? null, evaluations.length > 0]
    }])))
    return rows.length
  })
)
