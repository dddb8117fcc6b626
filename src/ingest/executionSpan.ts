import { Effect } from "effect"
import type { Queryable } from "../db/Db.ts"
import { executionById } from "../db/executionByTrace.ts"
import { GENAI_COLUMN_NAMES, GENAI_COLUMN_TYPES, genaiArrays } from "./genai/columns.ts"
import { storedInheritance } from "./genai/derive.ts"
import { isGenaiSpan, NOTHING_INHERITED, recognize } from "./genai/recognize.ts"

// An execution is a span of its trace (kind SERVER, named after its operation): written to `spans` when
// the execution ends (finished or timed out), shown from its row while it runs.

/** The span attributes of an execution row `x`: its tags, then the mplp.* facts of its start (those win). */
export const EXECUTION_SPAN_ATTRIBUTES = `
  (CASE WHEN jsonb_typeof(x.tags) = 'object' THEN x.tags ELSE jsonb_build_object('mplp.tags', x.tags) END)
  || jsonb_strip_nulls(jsonb_build_object(
       'mplp.service.name', x.service_name, 'mplp.context.id', x.context ->> 'contextId', 'mplp.user.id', x.context ->> 'userId',
       'mplp.operation.type', x.operation_type, 'mplp.priority', x.priority, 'mplp.execution.id', x.execution_id))`

/** OpenTelemetry status of an execution row `x`: OK when completed, ERROR when it failed, timed out or was cancelled. */
export const EXECUTION_SPAN_STATUS = `CASE x.status WHEN 'completed' THEN 1 WHEN 'failed' THEN 2 WHEN 'timed_out' THEN 2 WHEN 'cancelled' THEN 2 ELSE 0 END`
export const EXECUTION_SPAN_MESSAGE = `CASE x.status WHEN 'timed_out' THEN 'timed out' WHEN 'failed' THEN x.result ->> 'errorMessage' END`
export const EXECUTION_SPAN_KIND = 2

/**
 * Writes the span of an ended execution (id `$2`), its events as span events. Keyed like every span
 * (ON CONFLICT), so a redelivered finish or a repeated time-out writes it once.
 */
export const insertExecutionSpan = (tx: Queryable, tenantId: string, executionId: string) =>
  tx.query(
    `INSERT INTO spans (tenant_id, trace_id, span_id, parent_span_id, name, kind, status_code, status_message, service_name,
                        scope_name, start_time, end_time, duration_ms, resource_attributes, attributes, events, links)
     SELECT x.tenant_id, x.trace_id, x.span_id, x.parent_span_id, x.operation_name, ${EXECUTION_SPAN_KIND}, ${EXECUTION_SPAN_STATUS},
            ${EXECUTION_SPAN_MESSAGE}, x.service_name, 'mplp.executions', x.start_time, x.end_time,
            coalesce(x.duration_ms, extract(epoch FROM (x.end_time - x.start_time)) * 1000),
            jsonb_build_object('service.name', x.service_name), ${EXECUTION_SPAN_ATTRIBUTES},
            coalesce((SELECT jsonb_agg(jsonb_build_object('name', ev.event_name, 'timeMs', extract(epoch FROM ev.time) * 1000,
                                                          'attributes', ev.metadata || jsonb_build_object('mplp.event.type', ev.event_type))
                                       ORDER BY ev.time, ev.event_key)
                      FROM (SELECT * FROM execution_events e
                            WHERE e.tenant_id = x.tenant_id AND e.trace_id = x.trace_id AND e.execution_id = x.execution_id
                            ORDER BY e.time, e.event_key LIMIT 1000) ev), '[]'::jsonb),
            '[]'::jsonb
     FROM executions x
     WHERE ${executionById("$2", "x.")} AND x.status NOT IN ('active', 'paused') AND x.end_time IS NOT NULL AND x.source = 'api'
     ON CONFLICT DO NOTHING`,
    [tenantId, executionId]
  ).pipe(Effect.zipRight(recognizeExecutionSpan(tx, tenantId, executionId)), Effect.asVoid)

/**
 * An execution whose tags name an agent (`gen_ai.agent.name`, …) is a GenAI span too: its record, its
 * names completed from its parent (the agent that handed it the work). Unpriced: an execution reports
 * no model call of its own.
 */
const recognizeExecutionSpan = (tx: Queryable, tenantId: string, executionId: string) =>
  Effect.gen(function* () {
    const rows = yield* tx.query<{ trace_id: string; span_id: string; parent_span_id: string | null; status_code: number; attributes: Record<string, unknown> }>(
      `SELECT s.trace_id, s.span_id, s.parent_span_id, s.status_code, s.attributes FROM spans s JOIN executions x
         ON s.tenant_id = x.tenant_id AND s.trace_id = x.trace_id AND s.span_id = x.span_id AND s.start_time = x.start_time
       WHERE ${executionById("$2", "x.")} AND x.source = 'api' AND s.genai_kind IS NULL LIMIT 1`, [tenantId, executionId]
    )
    const r = rows[0]
    if (r === undefined || !isGenaiSpan(r.attributes)) return
    const inherited = r.parent_span_id === null
      ? NOTHING_INHERITED
      : (yield* storedInheritance(tx, tenantId, [r.trace_id], [r.parent_span_id])).get(r.parent_span_id) ?? NOTHING_INHERITED
    const record = recognize(r.attributes, Number(r.status_code), inherited)
    if (record === null) return
    yield* tx.query(
      `UPDATE spans SET (${GENAI_COLUMN_NAMES.join(", ")}) = (${GENAI_COLUMN_TYPES.map((t, i) => `$${4 + i}::${t}`).join(", ")})
       WHERE tenant_id = $1 AND trace_id = $2 AND span_id = $3 AND genai_kind IS NULL`,
      [tenantId, r.trace_id, r.span_id, ...genaiArrays([record]).map((column) => column[0] ?? null)]
    )
  })
