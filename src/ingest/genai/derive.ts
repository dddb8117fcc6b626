import { Effect } from "effect"
import type { Queryable } from "../../db/Db.ts"
import type { SpanRow } from "../../domain/jobs.ts"
import type { Price } from "../../domain/pricing.ts"
import { compilePricing, priced } from "./cost.ts"
import { inheritedFrom, inheritedOfRecord, isGenaiSpan, NOTHING_INHERITED, recognize } from "./recognize.ts"
import type { GenaiRecord, Inherited } from "./recognize.ts"

// The GenAI records of a batch of spans, for spans.genai: recognised, names inherited from ancestors in
// the batch or already stored (a stored span's genai row, or a native execution's tags), priced at the
// span's time.

/** Stored ancestors are followed this many levels up through plain spans. */
const MAX_STORED_HOPS = 4

type StoredRow = { span_id: string; parent_span_id: string | null; genai: Partial<GenaiRecord> | null; attributes: Record<string, unknown> | null }

/**
 * What stored spans `ids` (of traces `traces`) pass on: their genai row (which holds what they inherited
 * themselves), else (a plain span, or a native execution still running, whose span is not written yet)
 * what their own attributes name, completed from further up.
 */
export const storedInheritance = (q: Queryable, tenantId: string, traces: ReadonlyArray<string>, ids: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const acc = new Map<string, Inherited>()
    // span id to look up → the span ids whose inheritance waits for it
    let frontier = new Map<string, Array<string>>(ids.map((id) => [id, [id]]))
    for (let hop = 0; hop < MAX_STORED_HOPS && frontier.size > 0; hop++) {
      const rows = yield* q.query<StoredRow>(
        `SELECT span_id, parent_span_id, genai, CASE WHEN genai IS NULL THEN attributes END AS attributes
         FROM spans WHERE tenant_id = $1 AND trace_id = ANY($2::text[]) AND span_id = ANY($3::text[])
         UNION ALL
         SELECT x.span_id, x.parent_span_id, NULL,
                (CASE WHEN jsonb_typeof(x.tags) = 'object' THEN x.tags ELSE '{}'::jsonb END) || jsonb_strip_nulls(jsonb_build_object('mplp.user.id', x.context ->> 'userId'))
         FROM executions x WHERE x.trace_id = ANY($2::text[]) AND (x.tenant_id = $1) IS TRUE AND x.span_id = ANY($3::text[])`,
        [tenantId, traces, [...frontier.keys()]]
      )
      const next = new Map<string, Array<string>>()
      const seen = new Set<string>()
      for (const r of rows) {
        if (seen.has(r.span_id)) continue
        seen.add(r.span_id)
        const waiting = frontier.get(r.span_id) ?? []
        const attrs = r.attributes ?? {}
        const own = r.genai ?? (isGenaiSpan(attrs) ? recognize(attrs, 0, NOTHING_INHERITED) : null)
        const inherited = own === null ? inheritedFrom(attrs, null, NOTHING_INHERITED) : inheritedOfRecord(own)
        for (const w of waiting) acc.set(w, merge(acc.get(w) ?? NOTHING_INHERITED, inherited))
        if (r.genai === null && r.parent_span_id !== null) next.set(r.parent_span_id, [...(next.get(r.parent_span_id) ?? []), ...waiting])
      }
      frontier = next
    }
    return acc
  })

const merge = (near: Inherited, far: Inherited): Inherited => ({
  agentName: near.agentName ?? far.agentName,
  agentId: near.agentName === null ? near.agentId ?? far.agentId : near.agentId,
  toolName: near.toolName ?? far.toolName,
  conversationId: near.conversationId ?? far.conversationId,
  userId: near.userId ?? far.userId
})

/**
 * Children that arrived before their parent (an exporter sends a span when it ends, so a long agent span
 * comes after its model calls): their stored records get what the parent passes on and they lacked.
 * One level: a GenAI child directly under a span of this batch. Such children were stored marked
 * `awaitingParent`, and only they are looked for (index spans_genai_awaiting, usually empty), so a batch
 * whose spans have no such child pays a probe of an empty index per span.
 */
const backfillChildren = (q: Queryable, tenantId: string, spans: ReadonlyArray<SpanRow>, passed: ReadonlyArray<Inherited | undefined>) => {
  const rows: Array<readonly [SpanRow, Inherited]> = []
  spans.forEach((s, i) => {
    const p = passed[i]
    if (p !== undefined && (p.agentName !== null || p.toolName !== null || p.conversationId !== null || p.userId !== null)) rows.push([s, p])
  })
  if (rows.length === 0) return Effect.void
  return q.query(
    `UPDATE spans s SET genai = (s.genai - 'awaitingParent') || jsonb_strip_nulls(jsonb_build_object(
       'agentName', CASE WHEN s.genai ->> 'agentName' IS NULL THEN u.agent END,
       'agentId', CASE WHEN s.genai ->> 'agentName' IS NULL THEN u.agent_id END,
       'parentAgent', CASE WHEN s.genai ->> 'kind' = 'agent' AND s.genai ->> 'parentAgent' IS NULL AND u.agent IS DISTINCT FROM s.genai ->> 'agentName' THEN u.agent END,
       'toolName', CASE WHEN s.genai ->> 'toolName' IS NULL THEN u.tool END,
       'conversationId', CASE WHEN s.genai ->> 'conversationId' IS NULL THEN u.conv END,
       'userId', CASE WHEN s.genai ->> 'userId' IS NULL THEN u.usr END))
     FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) AS u(tr, sp, agent, agent_id, tool, conv, usr)
     WHERE s.tenant_id = $1 AND s.trace_id = u.tr AND s.parent_span_id = u.sp AND s.genai ? 'awaitingParent'`,
    [tenantId, rows.map(([s]) => s.traceId), rows.map(([s]) => s.spanId), rows.map(([, p]) => p.agentName), rows.map(([, p]) => p.agentId),
      rows.map(([, p]) => p.toolName), rows.map(([, p]) => p.conversationId), rows.map(([, p]) => p.userId)]
  ).pipe(Effect.asVoid)
}

/**
 * The GenAI record of each span of the batch (undefined for a span that is none). Costs one pass over
 * the attribute keys per span when the batch holds no GenAI span, and no query.
 */
export const deriveGenai = (q: Queryable, tenantId: string, spans: ReadonlyArray<SpanRow>, pricing: ReadonlyArray<Price>) =>
  Effect.gen(function* () {
    const out: Array<GenaiRecord | undefined> = new Array(spans.length)
    let any = false
    for (const s of spans) if (isGenaiSpan(s.attributes)) { any = true; break }
    if (!any) return out
    const byId = new Map<string, number>()
    spans.forEach((s, i) => byId.set(`${s.traceId}/${s.spanId}`, i))
    // The topmost in-batch ancestor of each span whose parent is elsewhere: its parent is looked up once.
    const external = new Set<string>()
    const traces = new Set<string>()
    for (const s of spans) {
      if (s.parentSpanId !== null && !byId.has(`${s.traceId}/${s.parentSpanId}`)) {
        external.add(s.parentSpanId)
        traces.add(s.traceId)
      }
    }
    const stored = external.size === 0 ? new Map<string, Inherited>() : yield* storedInheritance(q, tenantId, [...traces], [...external])
    // Inheritance computed parent first; a chain is walked once (memoised), iteratively (no recursion on depth).
    const passed: Array<Inherited | undefined> = new Array(spans.length)
    const table = compilePricing(pricing)
    const resolve = (start: number): Inherited => {
      const chain: Array<number> = []
      let i: number | undefined = start
      let base: Inherited = NOTHING_INHERITED
      const onChain = new Set<number>()
      while (i !== undefined && passed[i] === undefined && !onChain.has(i)) {
        chain.push(i)
        onChain.add(i)
        const s: SpanRow = spans[i]!
        if (s.parentSpanId === null) break
        const p = byId.get(`${s.traceId}/${s.parentSpanId}`)
        if (p === undefined) {
          base = stored.get(s.parentSpanId) ?? NOTHING_INHERITED
          break
        }
        i = p
      }
      if (i !== undefined && passed[i] !== undefined && !onChain.has(i)) base = passed[i]!
      for (let k = chain.length - 1; k >= 0; k--) {
        const j = chain[k]!
        const s = spans[j]!
        const rec = recognize(s.attributes, s.statusCode, base)
        const orphan = rec !== null && k === chain.length - 1 && s.parentSpanId !== null && !byId.has(`${s.traceId}/${s.parentSpanId}`) && !stored.has(s.parentSpanId)
        out[j] = rec === null ? undefined : priced(table, orphan ? { ...rec, awaitingParent: true } : rec, s.startTimeMs)
        base = inheritedFrom(s.attributes, rec, base)
        passed[j] = base
      }
      return passed[start] ?? NOTHING_INHERITED
    }
    for (let i = 0; i < spans.length; i++) if (passed[i] === undefined) resolve(i)
    yield* backfillChildren(q, tenantId, spans, passed)
    return out
  }).pipe(Effect.withSpan("Genai.derive"))
