import { Duration, Effect, Layer, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { lockCursor } from "../db/cursor.ts"
import { Db } from "../db/Db.ts"
import type { Queryable } from "../db/Db.ts"
import { AlertJob, DetectJob } from "../domain/pipeline.ts"
import type { ClosedWindow, EvaluationMsg } from "../domain/pipeline.ts"
import type { TenantSettings } from "../domain/settings.ts"
import { makeProducer, runWorker } from "../queues/Queues.ts"
import { sweep } from "../queues/sweep.ts"
import { currentTraceparent } from "../telemetry/traceContext.ts"
import { TenantStore } from "../tenants/TenantStore.ts"
import { detect, higherIsWorse, initial, makeDetectConfig, sdFloor } from "./ewma.ts"
import type { DetectorState } from "./ewma.ts"
import { evaluateThreshold, thresholdFor } from "./thresholds.ts"
import type { Severity } from "./thresholds.ts"

const DetectorStateSchema = Schema.Struct({
  mean: Schema.Number, variance: Schema.Number, n: Schema.Number, streak: Schema.Number,
  shadowMean: Schema.Number, shadowVariance: Schema.Number
})
const decodeState = Schema.decodeUnknownSync(DetectorStateSchema)

const BATCH = 2000

const evaluation = (w: ClosedWindow, rule: "anomaly" | "threshold", severity: Severity, extra: Partial<EvaluationMsg>): EvaluationMsg => ({
  metricName: w.metricName, serviceName: w.serviceName, operation: w.operation, seriesKey: w.seriesKey,
  rule, severity, windowStartMs: w.windowStartMs, windowEndMs: w.windowEndMs, value: w.mean,
  expected: null, sd: null, z: null, threshold: null, ...extra
})

/** Pure: one window through the series' detector and its threshold rule. */
export const evaluate = (settings: TenantSettings, state: DetectorState, w: ClosedWindow) => {
  const out: Array<EvaluationMsg> = []
  let next = state
  if (settings.detector.enabled) {
    const config = makeDetectConfig({ ...settings.detector, adaptAfter: 3 * settings.detector.warmupWindows, minSd: sdFloor(w.metricName, state.mean, w.count), direction: higherIsWorse(w.metricName) ? "up" : "both" })
    const d = detect(config, state, w.mean)
    next = d.state
    out.push(evaluation(w, "anomaly", d.severity, d.warmedUp ? { expected: d.expected, sd: d.sd, z: d.z } : {}))
  }
  const rule = thresholdFor(w.metricName, settings.thresholds)
  if (rule !== undefined) {
    const severity = evaluateThreshold(rule, w.mean)
    const level = severity === "critical" ? rule.critical : severity === "warning" ? rule.warning : undefined
    out.push(evaluation(w, "threshold", severity, { threshold: level ?? null }))
  }
  return { state: next, evaluations: out }
}

type WindowRow = {
  series_key: string; metric_name: string; service_name: string; operation: string
  ws: number; we: number; count: number; mean: number; min: number; max: number; p95: number | null
}

/**
 * Evaluates the tenant's closed, not yet evaluated windows in window order, in one transaction: the
 * detector states advance, anomalies are recorded, the windows are marked evaluated and the
 * evaluations queued for the alert policy. Each window is evaluated exactly once, whatever the
 * number of workers or redeliveries. Returns how many windows it evaluated.
 */
export const detectPending = (tx: Queryable, tenantId: string, settings: TenantSettings) =>
  Effect.gen(function* () {
    yield* lockCursor(tx, tenantId, "detect")
    const rows = yield* tx.query<WindowRow>(
      `SELECT series_key, metric_name, service_name, operation, extract(epoch FROM window_start) * 1000 AS ws,
              extract(epoch FROM window_end) * 1000 AS we, count::float8 AS count, mean, min, max, p95
       FROM metric_windows WHERE tenant_id = $1 AND evaluated_at IS NULL ORDER BY window_start, series_key LIMIT ${BATCH}`, [tenantId]
    )
    if (rows.length === 0) return 0
    const keys = [...new Set(rows.map((r) => r.series_key))]
    const stored = yield* tx.query<{ series_key: string; state: unknown }>(
      "SELECT series_key, state FROM detector_state WHERE tenant_id = $1 AND series_key = ANY($2::text[])", [tenantId, keys]
    )
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
    if (anomalies.length > 0) {
      yield* tx.query(
        `INSERT INTO anomalies (tenant_id, series_key, metric_name, service_name, operation, method, window_start, window_end,
                                observed, expected, sd, z, threshold, severity)
         SELECT $1, k, m, s, o, me, to_timestamp(ws / 1000.0), to_timestamp(we / 1000.0), ob, ex, sd, z, th, sv
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::float8[], $9::float8[],
                     $10::float8[], $11::float8[], $12::float8[], $13::float8[], $14::text[])
              AS u(k, m, s, o, me, ws, we, ob, ex, sd, z, th, sv)
         ON CONFLICT DO NOTHING`,
        [tenantId, anomalies.map((a) => a.seriesKey), anomalies.map((a) => a.metricName), anomalies.map((a) => a.serviceName),
          anomalies.map((a) => a.operation), anomalies.map((a) => (a.rule === "anomaly" ? "ewma_zscore" : "threshold")),
          anomalies.map((a) => a.windowStartMs), anomalies.map((a) => a.windowEndMs), anomalies.map((a) => a.value),
          anomalies.map((a) => a.expected), anomalies.map((a) => a.sd), anomalies.map((a) => a.z), anomalies.map((a) => a.threshold),
          anomalies.map((a) => a.severity)]
      )
    }
    yield* tx.query(
      `INSERT INTO detector_state (tenant_id, series_key, state, last_window_start, updated_at)
       SELECT $1, k, s::jsonb, to_timestamp(w / 1000.0), now() FROM unnest($2::text[], $3::text[], $4::float8[]) AS u(k, s, w)
       ON CONFLICT (tenant_id, series_key) DO UPDATE SET state = excluded.state, last_window_start = excluded.last_window_start, updated_at = now()`,
      [tenantId, keys, keys.map((k) => JSON.stringify(states.get(k))), keys.map((k) => lastWindow.get(k) ?? 0)]
    )
    yield* tx.query(
      `UPDATE metric_windows m SET evaluated_at = now(), expected = u.ex, sd = u.sd, z = u.z
       FROM unnest($2::text[], $3::float8[], $4::float8[], $5::float8[], $6::float8[]) AS u(k, ws, ex, sd, z)
       WHERE m.tenant_id = $1 AND m.series_key = u.k AND m.window_start = to_timestamp(u.ws / 1000.0)`,
      [tenantId, rows.map((r) => r.series_key), rows.map((r) => Number(r.ws)), band.map((e) => e?.expected ?? null),
        band.map((e) => e?.sd ?? null), band.map((e) => e?.z ?? null)]
    )
    if (evaluations.length > 0) {
      yield* tx.query("INSERT INTO pending_evaluations (tenant_id, payload, traceparent) VALUES ($1, $2::jsonb, $3)", [tenantId, JSON.stringify(evaluations), (yield* currentTraceparent) ?? null])
    }
    return rows.length
  })

export const DetectStage = {
  layer: (concurrency: number) =>
    Layer.scopedDiscard(
      Effect.gen(function* () {
        const db = yield* Db
        const store = yield* TenantStore
        const alert = yield* makeProducer("alert", AlertJob)
        const detectQueue = yield* makeProducer("detect", DetectJob)
        yield* runWorker({
          stage: "detect",
          schema: DetectJob,
          concurrency,
          process: (job) =>
            Effect.gen(function* () {
              const settings = yield* store.getSettings(job.tenantId)
              const n = yield* db.transaction((tx) => detectPending(tx, job.tenantId, settings))
              if (n === 0) return
              yield* alert.add("evaluate", { _tag: "evaluate", tenantId: job.tenantId }, { jobId: `${job.tenantId}.eval-${randomUUID()}` })
              // More than one batch pending: continue in a fresh job rather than hold the cursor.
              if (n >= BATCH) yield* detectQueue.add("windows", { tenantId: job.tenantId }, { jobId: `${job.tenantId}.det-${randomUUID()}` })
            }).pipe(Effect.annotateLogs({ tenantId: job.tenantId }), Effect.withSpan("DetectStage.process"))
        })
        // Crash recovery: windows closed but never handed on (the hand-off job was lost) are picked up here.
        yield* sweep("window hand-off sweep", Duration.seconds(10), db.query<{ tenant_id: string }>(
          "SELECT DISTINCT tenant_id FROM metric_windows WHERE evaluated_at IS NULL AND closed_at <= now() - interval '10 seconds'"
        ).pipe(
          Effect.flatMap((rows) => Effect.forEach(rows, (r) =>
            detectQueue.add("windows", { tenantId: r.tenant_id }, { jobId: `${r.tenant_id}.det-${randomUUID()}` }), { discard: true }))
        ))
      })
    )
}
