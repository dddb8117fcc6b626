import { loadExecutionTotals } from "./genaiTotals.ts"
import { Effect, Option } from "effect"
import type { Queryable } from "../db/Db.ts"
import { headOf } from "./ExecutionReader.ts"
import type { ExecutionHeadRow } from "./ExecutionReader.ts"

export interface ExecutionSearch {
  readonly service: string | null
  readonly operation: string | null
  readonly statuses: ReadonlyArray<string> | null
  readonly minDurationMs: number | null
  readonly maxDurationMs: number | null
  readonly fromMs: number | null
  readonly toMs: number | null
  /** attr.KEY=VALUE pairs, all of which must match. */
  readonly attributes: ReadonlyArray<readonly [key: string, value: string]>
  readonly limit: number
  readonly cursor: SearchCursor | null
}

/** The last row of a page: start_time exactly as the database keeps it (microseconds), the trace and span ids. */
export interface SearchCursor { readonly startTime: string; readonly traceId: string; readonly spanId: string }

const CURSOR_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/

export const encodeCursor = (c: SearchCursor): string => Buffer.from(JSON.stringify([c.startTime, c.traceId, c.spanId]), "utf8").toString("base64url")

export const decodeCursor = (text: string): Option.Option<SearchCursor> => {
  try {
    const v: unknown = JSON.parse(Buffer.from(text, "base64url").toString("utf8"))
    if (Array.isArray(v) && (v.length === 2 || v.length === 3) && typeof v[0] === "string" && CURSOR_TIME.test(v[0]) &&
        typeof v[1] === "string" && v[1].length <= 64 && (v.length === 2 || (typeof v[2] === "string" && v[2].length <= 32))) {
      // A two-part cursor (from before a trace could hold several executions) skips its whole trace at that time, as it did.
      return Option.some({ startTime: v[0], traceId: v[1], spanId: typeof v[2] === "string" ? v[2] : "" })
    }
  } catch {
    // a cursor that is not ours is refused below
  }
  return Option.none()
}

/**
 * attr.KEY=VALUE matches when KEY holds VALUE (compared as text: JSON numbers and booleans in their
 * JSON spelling) in any of the execution's metadata, custom_attributes or object-form tags. An OTLP
 * trace's metadata is its root span's attributes, so `attr.http.route=/x` finds those too.
 */
export const searchSql = (tenantId: string, s: ExecutionSearch): { text: string; values: Array<unknown> } => {
  const values: Array<unknown> = [tenantId]
  const p = (v: unknown) => `$${values.push(v)}`
  const where = ["tenant_id = $1"]
  if (s.service !== null) where.push(`service_name = ${p(s.service)}`)
  if (s.operation !== null) where.push(`operation_name = ${p(s.operation)}`)
  if (s.statuses !== null) where.push(`status = ANY(${p(s.statuses)}::text[])`)
  if (s.minDurationMs !== null) where.push(`duration_ms >= ${p(s.minDurationMs)}`)
  if (s.maxDurationMs !== null) where.push(`duration_ms <= ${p(s.maxDurationMs)}`)
  if (s.fromMs !== null) where.push(`start_time >= to_timestamp(${p(s.fromMs)} / 1000.0)`)
  if (s.toMs !== null) where.push(`start_time < to_timestamp(${p(s.toMs)} / 1000.0)`)
  for (const [key, value] of s.attributes) {
    const k = p(key)
    const v = p(value)
    where.push(`(metadata ->> ${k} = ${v} OR custom_attributes ->> ${k} = ${v} OR (jsonb_typeof(tags) = 'object' AND tags ->> ${k} = ${v}))`)
  }
  // (start_time, trace_id, span_id) is unique per tenant, so this order is total and a page boundary never splits ties.
  if (s.cursor !== null) {
    where.push(`(start_time, trace_id, span_id) < (${p(s.cursor.startTime)}::timestamptz, ${p(s.cursor.traceId)}, ${p(s.cursor.spanId)})`)
  }
  return {
    text: `SELECT execution_id, trace_id, span_id, parent_span_id, operation_name, service_name, operation_type, priority, status, source,
                  start_time, end_time, duration_ms, tags, metadata, custom_attributes, progress_percentage, current_operation,
                  to_char(start_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS cursor_time
           FROM executions WHERE ${where.join(" AND ")}
           ORDER BY start_time DESC, trace_id DESC, span_id DESC LIMIT ${p(s.limit + 1)}`,
    values
  }
}

type SearchRow = ExecutionHeadRow & {
  progress_percentage: number | null; current_operation: string | null; tags: unknown; metadata: Record<string, unknown>; custom_attributes: Record<string, unknown>; cursor_time: string
}

/** Newest first; `nextCursor` is null on the last page. */
export const searchExecutions = (q: Queryable, tenantId: string, s: ExecutionSearch) =>
  Effect.gen(function* () {
    const { text, values } = searchSql(tenantId, s)
    const rows = yield* q.query<SearchRow>(text, values)
    const page = rows.slice(0, s.limit)
    const last = page[page.length - 1]
    const totals = yield* loadExecutionTotals(q, tenantId, page.map((r) => ({ traceId: r.trace_id, spanId: r.span_id, parentSpanId: r.parent_span_id })))
    return {
      executions: page.map((r) => ({
        ...headOf(r),
        tags: r.tags,
        metadata: r.metadata,
        customAttributes: r.custom_attributes,
        progressPercentage: r.progress_percentage,
        currentOperation: r.current_operation,
        genai: totals.get(`${r.trace_id}/${r.span_id}`) ?? null
      })),
      nextCursor: rows.length > s.limit && last !== undefined ? encodeCursor({ startTime: last.cursor_time, traceId: last.trace_id, spanId: last.span_id }) : null
    }
  }).pipe(Effect.withSpan("Executions.search"))
