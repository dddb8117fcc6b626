import type { SpanRow } from "../../domain/jobs.ts"
import type { GenaiRecord } from "./recognize.ts"

// Runaway agents: the same tool, or the same agent → model call, more than settings.detector.maxRepeatedCalls
// times in one execution (a trace) raises agent_loop_suspected, once per execution (the notification's
// message id is the execution's). Counted over every stored span of the trace, whatever batch it came
// in: the batch's own calls plus the trace's calls stored before it (probeStored in derive.ts), so a
// trace whose last batch is a whole subtree still counts its earlier ones, and a redelivered batch
// counts the same.

export interface Loop { readonly traceId: string; readonly repeated: string; readonly calls: number }

/** What repeats, as the alert names it: `tool:<name>` or `agent:<name>->model:<model>`; null for a call that is neither. */
export const loopKeyOf = (g: GenaiRecord): string | null =>
  g.kind === "tool" && g.toolName !== null ? `tool:${g.toolName}` : g.kind === "model" && g.model !== null ? `agent:${g.agentName ?? ""}->model:${g.model}` : null

const MODEL_SQL = "coalesce(genai_response_model, genai_request_model)"
export const LOOP_KEY_SQL = `CASE genai_kind WHEN 'tool' THEN 'tool:' || genai_tool ELSE 'agent:' || coalesce(genai_agent, '') || '->model:' || ${MODEL_SQL} END`
/** Whether a stored span is a call that could repeat (coalesce: see probeStored in derive.ts). */
export const LOOP_CALL_SQL = `((coalesce(genai_kind, '') = 'tool' AND genai_tool IS NOT NULL) OR (coalesce(genai_kind, '') = 'model' AND ${MODEL_SQL} IS NOT NULL))`

/** Pure: per trace, its most repeated call when it repeats more than `max` times (`stored`: other stored calls by trace and key). */
export const loopsOf = (
  spans: ReadonlyArray<SpanRow>, genai: ReadonlyArray<GenaiRecord | undefined>, stored: ReadonlyMap<string, number>, max: number
): Array<Loop> => {
  const counts = new Map<string, { traceId: string; repeated: string; calls: number }>()
  genai.forEach((g, i) => {
    if (g === undefined) return
    const repeated = loopKeyOf(g)
    if (repeated === null) return
    const traceId = spans[i]!.traceId
    const k = `${traceId}\u0000${repeated}`
    const c = counts.get(k)
    if (c === undefined) counts.set(k, { traceId, repeated, calls: 1 + (stored.get(k) ?? 0) })
    else c.calls++
  })
  const found = new Map<string, Loop>()
  for (const c of counts.values()) {
    const best = found.get(c.traceId)
    if (c.calls > max && (best === undefined || c.calls > best.calls)) found.set(c.traceId, c)
  }
  return [...found.values()]
}

export const storedCallsOf = (rows: ReadonlyArray<{ trace_id: string; repeated: string; calls: number }>): Map<string, number> =>
  new Map(rows.map((r) => [`${r.trace_id}\u0000${r.repeated}`, Number(r.calls)]))
