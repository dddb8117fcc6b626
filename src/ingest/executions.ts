import type { GenaiRecord } from "./genai/recognize.ts"
import { Data, Effect } from "effect"
import type { DbError, Queryable } from "../db/Db.ts"
import { toEpochMs } from "../domain/ids.ts"
import { executionIdOfJob } from "../domain/jobs.ts"
import type { ExecutionFinishJob, ExecutionStartJob, ExecutionUpdateJob, MetricRow } from "../domain/jobs.ts"
import { insertExecutionSpan } from "./executionSpan.ts"
import { hash64, insertMetricPoints } from "./persist.ts"
import { executionById, rootExecutionById } from "../db/executionByTrace.ts"

/** An update that arrived before its predecessor: the job is retried (with back-off) until it is next in line. */
export class OutOfOrder extends Data.TaggedError("OutOfOrder")<{ readonly message: string }> {}

type StartJob = typeof ExecutionStartJob.Type
type UpdateJob = typeof ExecutionUpdateJob.Type
type FinishJob = typeof ExecutionFinishJob.Type

export interface Applied {
  readonly applied: boolean
  /** Metric points this step produced (already stored), for the aggregation stage. */
  readonly points: ReadonlyArray<MetricRow>
  readonly serviceName?: string
  /** The GenAI records of a span batch (aligned with its spans), for derived series, budgets and loops. */
  readonly genai?: ReadonlyArray<GenaiRecord | undefined>
  /** Loop calls of the batch's traces stored before it (src/ingest/genai/loops.ts), by trace and key. */
  readonly storedCalls?: ReadonlyMap<string, number>
}

/**
 * Records the execution, its trace registered in execution_traces (migrations/0014): a root span of the
 * trace stored later becomes no execution of its own. An OTLP root span that became an execution under
 * the same id before this start (see upsertSpanExecutions) gives way: the native execution is the one
 * its client updates, and the OTLP span stays in the trace as a span. A root span being stored at the
 * same moment is waited for by the registration (its claim holds the row), so the delete sees it.
 */
export const startExecution = (tx: Queryable, job: StartJob) =>
  Effect.gen(function* () {
    const r = job.request
    const executionId = executionIdOfJob(job)
    const rows = yield* tx.query(
      `WITH registered AS (INSERT INTO execution_traces (tenant_id, trace_id) VALUES ($1, $2) ON CONFLICT DO NOTHING)
       INSERT INTO executions (tenant_id, trace_id, span_id, parent_span_id, execution_id, operation_name, service_name, operation_type,
                               priority, status, source, start_time, context, tags, metadata, sampling_rate, trace_flags, last_seq)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'active', 'api', to_timestamp($10 / 1000.0), $11::jsonb, $12::jsonb, $13::jsonb, $14, $15, 1)
       ON CONFLICT DO NOTHING RETURNING trace_id`,
      [
        job.tenantId, job.traceId, job.spanId, job.parentSpanId, executionId, r.operationName, r.serviceName, r.operationType ?? null,
        r.priority ?? null, job.startTimeMs, JSON.stringify(r.context), JSON.stringify(r.tags ?? {}),
        JSON.stringify({ ...(r.metadata ?? {}), ...(job.parentSpanId === null ? {} : { parentSpanId: job.parentSpanId }) }),
        r.samplingRate ?? 1, r.traceFlags ?? 1
      ]
    )
    if (rows.length > 0) {
      yield* tx.query(`DELETE FROM executions WHERE ${rootExecutionById()}`, [job.tenantId, executionId])
    }
    return { applied: rows.length > 0, points: [] } satisfies Applied
  })

/**
 * Applies step `seq` only when `seq - 1` is the last one applied: a replay (already applied) changes
 * nothing but still reports the execution, an early arrival fails with OutOfOrder and is retried.
 */
const inOrder = (
  tx: Queryable,
  tenantId: string,
  executionId: string,
  seq: number,
  apply: Effect.Effect<ReadonlyArray<{ service_name: string }>, DbError>
) =>
  Effect.gen(function* () {
    const rows = yield* apply
    const row = rows[0]
    if (row !== undefined) return { serviceName: row.service_name, fresh: true }
    const last = yield* tx.query<{ last_seq: number; service_name: string }>(
      `SELECT last_seq, service_name FROM executions WHERE ${executionById()} AND source = 'api' LIMIT 1`, [tenantId, executionId]
    )
    const found = last[0]
    const lastSeq = found === undefined ? 0 : Number(found.last_seq)
    if (found !== undefined && lastSeq >= seq) return { serviceName: found.service_name, fresh: false }
    return yield* new OutOfOrder({ message: `execution ${executionId}: step ${seq} waits for step ${lastSeq + 1}` })
  })

/** Event keys are unique per execution: a later execution of the trace prefixes them with its span id. */
const eventKey = (executionId: string, seq: number, i: number) =>
  executionId.length > 32 ? `${executionId.slice(33)}:${seq}.${i}` : `${seq}.${i}`

const metricRows = (metrics: Readonly<Record<string, number>>, timeMs: number, serviceName: string, traceId: string): Array<MetricRow> =>
  Object.entries(metrics).map(([name, value]) => ({ name, value, timeMs, serviceName, traceId, attributes: {} }))

export const updateExecution = (tx: Queryable, job: UpdateJob, jobId: string) =>
  Effect.gen(function* () {
    const u = job.update
    const executionId = executionIdOfJob(job)
    const done = yield* inOrder(tx, job.tenantId, executionId, job.seq, tx.query(
      // The finish is the last step by definition: an update that reaches an ended execution (sent in
      // the same burst but arriving after the finish, or late) adds its events and new metrics, and
      // changes neither the outcome nor the final values.
      `UPDATE executions SET
         progress_percentage = CASE WHEN status IN ('active', 'paused') THEN coalesce($4, progress_percentage) ELSE progress_percentage END,
         current_operation = CASE WHEN status IN ('active', 'paused') THEN coalesce($5, current_operation) ELSE current_operation END,
         status = CASE WHEN status IN ('active', 'paused') THEN coalesce($6, status) ELSE status END,
         metrics = CASE WHEN status IN ('active', 'paused') THEN metrics || $7::jsonb ELSE $7::jsonb || metrics END,
         custom_attributes = custom_attributes || $8::jsonb,
         last_seq = $3, updated_at = now()
       WHERE ${executionById()} AND source = 'api' AND last_seq = $3 - 1
       RETURNING service_name`,
      [job.tenantId, executionId, job.seq, u.progressPercentage ?? null, u.currentOperation ?? null, u.status ?? null,
        JSON.stringify(u.metrics ?? {}), JSON.stringify(u.customAttributes ?? {})]
    ))
    const points = metricRows(u.metrics ?? {}, job.receivedAtMs, done.serviceName, job.traceId)
    if (!done.fresh) return { applied: false, points, serviceName: done.serviceName } satisfies Applied
    const events = u.events ?? []
    if (events.length > 0) {
      yield* tx.query(
        `INSERT INTO execution_events (tenant_id, trace_id, execution_id, time, event_key, event_name, event_type, metadata)
         SELECT $1, $2, $8, to_timestamp(t / 1000.0), k, n, ty, m::jsonb
         FROM unnest($3::float8[], $4::text[], $5::text[], $6::text[], $7::text[]) AS u(t, k, n, ty, m)
         ON CONFLICT DO NOTHING`,
        [job.tenantId, job.traceId, events.map((e) => toEpochMs(e.timestamp)), events.map((_, i) => eventKey(executionId, job.seq, i)),
          events.map((e) => e.eventName), events.map((e) => e.eventType), events.map((e) => JSON.stringify(e.metadata ?? {})), executionId]
      )
    }
    if (points.length > 0) yield* insertMetricPoints(tx, job.tenantId, points, points.map((_, i) => keyOf(jobId, i)))
    return { applied: true, points, serviceName: done.serviceName } satisfies Applied
  })

export const finishExecution = (tx: Queryable, job: FinishJob, jobId: string) =>
  Effect.gen(function* () {
    const r = job.result
    const executionId = executionIdOfJob(job)
    const done = yield* inOrder(tx, job.tenantId, executionId, job.seq, tx.query(
      `UPDATE executions SET
         status = $4,
         end_time = CASE WHEN $5::float8 IS NULL THEN to_timestamp($6 / 1000.0) ELSE start_time + make_interval(secs => $5 / 1000.0) END,
         duration_ms = coalesce($5, extract(epoch FROM (to_timestamp($6 / 1000.0) - start_time)) * 1000),
         result = $7::jsonb, errors = $8::jsonb, warnings = $9::jsonb, performance_score = $10,
         metrics = metrics || $11::jsonb,
         progress_percentage = CASE WHEN $4 = 'completed' THEN 100 ELSE progress_percentage END,
         current_operation = NULL,
         last_seq = $3, updated_at = now()
       WHERE ${executionById()} AND source = 'api' AND last_seq = $3 - 1
       RETURNING service_name`,
      [job.tenantId, executionId, job.seq, r.success ? "completed" : "failed", r.durationMs ?? null, job.receivedAtMs,
        JSON.stringify({ success: r.success, errorMessage: r.errorMessage ?? null, durationMs: r.durationMs ?? null, performanceScore: r.performanceScore ?? null }),
        JSON.stringify(r.errors ?? (r.errorMessage === undefined ? [] : [r.errorMessage])), JSON.stringify(r.warnings ?? []),
        r.performanceScore ?? null, JSON.stringify(r.finalMetrics ?? {})]
    ))
    const points = metricRows(r.finalMetrics ?? {}, job.receivedAtMs, done.serviceName, job.traceId)
    // The span is written on every delivery (keyed): a finish that committed before its span did is completed by its retry.
    yield* insertExecutionSpan(tx, job.tenantId, executionId)
    if (!done.fresh) return { applied: false, points, serviceName: done.serviceName } satisfies Applied
    if (points.length > 0) yield* insertMetricPoints(tx, job.tenantId, points, points.map((_, i) => keyOf(jobId, i)))
    return { applied: true, points, serviceName: done.serviceName } satisfies Applied
  })

const keyOf = (jobId: string, i: number) => String(hash64(`${jobId}#${i}`))
