import { Effect } from "effect"
import type { Queryable } from "../../db/Db.ts"
import type { SpanRow } from "../../domain/jobs.ts"
import type { GenaiRecord } from "./recognize.ts"

// Runaway agents: the same tool, or the same agent → model call, more than settings.detector.maxRepeatedCalls
// times in one execution (a trace) raises agent_loop_suspected, once per execution (the notification's
// message id is the execution's). Counted over the trace's stored spans, so calls spread over many
// batches add up.

export interface Loop { readonly traceId: string; readonly repeated: string; readonly calls: number }

/** What repeats, as the alert names it: `tool:<name>` or `agent:<name>->model:<model>`. */
export const LOOP_KEY_SQL = `CASE genai ->> 'kind' WHEN 'tool' THEN 'tool:' || (genai ->> 'toolName')
  ELSE 'agent:' || coalesce(genai ->> 'agentName', '') || '->model:' || (genai ->> 'model') END`

export const findLoops = (q: Queryable, tenantId: string, spans: ReadonlyArray<SpanRow>, genai: ReadonlyArray<GenaiRecord | undefined>, maxRepeatedCalls: number) =>
  Effect.gen(function* () {
    // A trace whose spans in this batch all hang under spans of the batch (or are roots) is counted here;
    // one with a span whose parent is elsewhere (the trace comes in several batches, as exporters send
    // spans when they end) is counted over its stored spans, this batch's included. (A trace's last batch
    // that is a whole subtree by itself counts only its own calls.)
    const ids = new Set(spans.map((s) => `${s.traceId}/${s.spanId}`))
    const spread = new Set<string>()
    for (const s of spans) if (s.parentSpanId !== null && !ids.has(`${s.traceId}/${s.parentSpanId}`)) spread.add(s.traceId)
    const traces = new Set<string>()
    const local = new Map<string, number>()
    const found = new Map<string, Loop>()
    genai.forEach((g, i) => {
      if (g === undefined) return
      const key = g.kind === "tool" && g.toolName !== null ? `tool:${g.toolName}` : g.kind === "model" && g.model !== null ? `agent:${g.agentName ?? ""}->model:${g.model}` : null
      if (key === null) return
      const trace = spans[i]!.traceId
      if (spread.has(trace)) {
        traces.add(trace)
        return
      }
      const n = (local.get(`${trace}\u0000${key}`) ?? 0) + 1
      local.set(`${trace}\u0000${key}`, n)
      const best = found.get(trace)
      if (n > maxRepeatedCalls && (best === undefined || n > best.calls)) found.set(trace, { traceId: trace, repeated: key, calls: n })
    })
    if (traces.size === 0) return [...found.values()]
    const rows = yield* q.query<{ trace_id: string; repeated: string; calls: number }>(
      `SELECT trace_id, ${LOOP_KEY_SQL} AS repeated, count(*)::int AS calls FROM spans
       WHERE tenant_id = $1 AND trace_id = ANY($2::text[]) AND genai IS NOT NULL
         AND ((genai ->> 'kind' = 'tool' AND genai ? 'toolName' AND genai ->> 'toolName' IS NOT NULL) OR (genai ->> 'kind' = 'model' AND genai ->> 'model' IS NOT NULL))
       GROUP BY 1, 2 HAVING count(*) > $3 ORDER BY 1, 3 DESC`,
      [tenantId, [...traces], maxRepeatedCalls]
    )
    // One per trace: its most repeated call.
    const out = found
    for (const r of rows) if (!out.has(r.trace_id)) out.set(r.trace_id, { traceId: r.trace_id, repeated: r.repeated, calls: Number(r.calls) })
    return [...out.values()]
  }).pipe(Effect.withSpan("Genai.loops"))
