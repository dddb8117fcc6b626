import { Effect } from "effect"
import type { Queryable } from "../db/Db.ts"
import type { GenaiTotalsView, SpanGenaiView } from "../domain/genaiViews.ts"
import { genaiSelect, recordOfColumns } from "../ingest/genai/columns.ts"
import type { GenaiColumns } from "../ingest/genai/columns.ts"
import type { GenaiRecord } from "../ingest/genai/recognize.ts"

// An execution's GenAI totals: tokens, cost, LLM and tool calls, agents and models of the spans under
// its span (the whole trace for an execution that starts its trace).

type Stored = Partial<GenaiRecord>

const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0)

/** Totals of GenAI records; null when there is none. */
export const totalsOf = (records: ReadonlyArray<Stored | null | undefined>): GenaiTotalsView | null => {
  let any = false
  const t = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0, unpricedTokens: 0, llmCalls: 0, toolCalls: 0 }
  const agents = new Set<string>()
  const models = new Set<string>()
  for (const r of records) {
    if (r === null || r === undefined) continue
    any = true
    t.inputTokens += num(r.inputTokens)
    t.outputTokens += num(r.outputTokens)
    t.cacheReadTokens += num(r.cacheReadTokens)
    t.cacheWriteTokens += num(r.cacheWriteTokens)
    t.costUsd += num(r.costUsd)
    t.unpricedTokens += num(r.unpricedTokens)
    if (r.kind === "model") t.llmCalls++
    if (r.kind === "tool") t.toolCalls++
    if (typeof r.agentName === "string") agents.add(r.agentName)
    if (r.kind === "model" && typeof r.model === "string") models.add(r.model)
  }
  return any ? { ...t, agents: [...agents].sort(), models: [...models].sort() } : null
}

/** A stored record as the span view shows it. */
export const spanGenaiView = (r: Stored | null | undefined): SpanGenaiView | null =>
  r === null || r === undefined ? null : {
    operation: r.operation ?? null, provider: r.provider ?? null, requestModel: r.requestModel ?? null, responseModel: r.responseModel ?? null,
    agentName: r.agentName ?? null, agentId: r.agentId ?? null, toolName: r.toolName ?? null, conversationId: r.conversationId ?? null,
    workflowName: r.workflowName ?? null, inputTokens: r.inputTokens ?? null, outputTokens: r.outputTokens ?? null,
    cacheReadTokens: r.cacheReadTokens ?? null, cacheWriteTokens: r.cacheWriteTokens ?? null, costUsd: r.costUsd ?? null, errorType: r.errorType ?? null
  }

/** The records of the spans under `rootSpanId` (itself included), from (span, parent, record) rows of one trace. */
export const subtreeRecords = (rows: ReadonlyArray<{ span_id: string; parent_span_id: string | null; genai: Stored | null }>, rootSpanId: string) => {
  const children = new Map<string, Array<number>>()
  rows.forEach((r, i) => {
    if (r.parent_span_id !== null) children.set(r.parent_span_id, [...(children.get(r.parent_span_id) ?? []), i])
  })
  const out: Array<Stored | null> = []
  const seen = new Set<string>([rootSpanId])
  const stack = [rootSpanId]
  const self = rows.find((r) => r.span_id === rootSpanId)
  if (self !== undefined) out.push(self.genai)
  for (let id = stack.pop(); id !== undefined; id = stack.pop()) {
    for (const i of children.get(id) ?? []) {
      const r = rows[i]!
      if (seen.has(r.span_id)) continue
      seen.add(r.span_id)
      out.push(r.genai)
      stack.push(r.span_id)
    }
  }
  return out
}

export interface ExecutionRef { readonly traceId: string; readonly spanId: string; readonly parentSpanId: string | null }
export const refKey = (e: ExecutionRef) => `${e.traceId}/${e.spanId}`

/**
 * Totals of many executions in two statements at most: per trace for executions that start their trace,
 * per subtree for executions with a parent span (their trace's span ids are read to find the subtree).
 */
export const loadExecutionTotals = (q: Queryable, tenantId: string, execs: ReadonlyArray<ExecutionRef>) =>
  Effect.gen(function* () {
    const out = new Map<string, GenaiTotalsView | null>()
    if (execs.length === 0) return out
    const roots = execs.filter((e) => e.parentSpanId === null)
    const children = execs.filter((e) => e.parentSpanId !== null)
    if (roots.length > 0) {
      const rows = yield* q.query<{ trace_id: string } & GenaiColumns>(
        `SELECT trace_id, ${genaiSelect()} FROM spans
         WHERE tenant_id = $1 AND trace_id = ANY($2::text[]) AND genai_kind IS NOT NULL LIMIT 100000`,
        [tenantId, [...new Set(roots.map((e) => e.traceId))]]
      )
      const records = new Map<string, Array<Stored | null>>()
      for (const r of rows) records.set(r.trace_id, [...(records.get(r.trace_id) ?? []), recordOfColumns(r)])
      for (const e of roots) out.set(refKey(e), totalsOf(records.get(e.traceId) ?? []))
    }
    if (children.length > 0) {
      const rows = yield* q.query<{ trace_id: string; span_id: string; parent_span_id: string | null } & GenaiColumns>(
        `SELECT trace_id, span_id, parent_span_id, ${genaiSelect()} FROM spans WHERE tenant_id = $1 AND trace_id = ANY($2::text[]) LIMIT 100000`,
        [tenantId, [...new Set(children.map((e) => e.traceId))]]
      )
      const withRecords = rows.map((r) => ({ trace_id: r.trace_id, span_id: r.span_id, parent_span_id: r.parent_span_id, genai: recordOfColumns(r) }))
      for (const e of children) out.set(refKey(e), totalsOf(subtreeRecords(withRecords.filter((r) => r.trace_id === e.traceId), e.spanId)))
    }
    return out
  }).pipe(Effect.withSpan("Genai.executionTotals"))
