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
    const traces = new Set<string>()
    // Only traces whose batch has enough such calls to matter at all... any call may tip it over, so every trace with one.
    genai.forEach((g, i) => {
      if (g !== undefined && ((g.kind === "tool" && g.toolName !== null) || (g.kind === "model" && g.model !== null))) traces.add(spans[i]!.traceId)
    })
    if (traces.size === 0) return []
    const rows = yield* q.query<{ trace_id: string; repeated: string; calls: number }>(
      `SELECT trace_id, ${LOOP_KEY_SQL} AS repeated, count(*)::int AS calls FROM spans
       WHERE tenant_id = $1 AND trace_id = ANY($2::text[]) AND genai IS NOT NULL
         AND ((genai ->> 'kind' = 'tool' AND genai ? 'toolName' AND genai ->> 'toolName' IS NOT NULL) OR (genai ->> 'kind' = 'model' AND genai ->> 'model' IS NOT NULL))
       GROUP BY 1, 2 HAVING count(*) > $3 ORDER BY 1, 3 DESC`,
      [tenantId, [...traces], maxRepeatedCalls]
    )
    // One per trace: its most repeated call.
    const out = new Map<string, Loop>()
    for (const r of rows) if (!out.has(r.trace_id)) out.set(r.trace_id, { traceId: r.trace_id, repeated: r.repeated, calls: Number(r.calls) })
    return [...out.values()]
  }).pipe(Effect.withSpan("Genai.loops"))
