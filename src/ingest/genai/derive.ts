import { Effect } from "effect"
import type { Queryable } from "../../db/Db.ts"
import type { SpanRow } from "../../domain/jobs.ts"
import type { Price } from "../../domain/pricing.ts"
import { compilePricing, priced } from "./cost.ts"
import { LOOP_CALL_SQL, LOOP_KEY_SQL, loopKeyOf, loopsFromMs, storedCallsOf } from "./loops.ts"
import type { GenaiColumns } from "./columns.ts"
import { inheritedFrom, inheritedOfRecord, isGenaiSpan, NOTHING_INHERITED, recognize } from "./recognize.ts"
import type { GenaiRecord, Inherited } from "./recognize.ts"

// The GenAI records of a batch of spans, for the spans' genai_* columns: recognised, names inherited from ancestors in
// the batch or already stored (a stored span's genai_* columns, or a native execution's tags), priced at the
// span's time.

/** The columns a stored GenAI span passes on to its descendants. */
const INHERITED_COLUMNS = "genai_kind, genai_agent, genai_agent_id, genai_tool, genai_conversation, genai_user"

const inheritedOfColumns = (r: Partial<GenaiColumns>): Inherited => ({
  agentName: r.genai_agent ?? null, agentId: r.genai_agent_id ?? null, toolName: r.genai_tool ?? null,
  conversationId: r.genai_conversation ?? null, userId: r.genai_user ?? null
})

/** Stored ancestors are followed this many levels up through plain spans. */
const MAX_STORED_HOPS = 4

type StoredRow = Partial<GenaiColumns> & { span_id: string; parent_span_id: string | null; attributes: Record<string, unknown> | null }

/**
 * What stored spans `ids` (of traces `traces`) pass on: their genai columns (which hold what they inherited
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
        `SELECT span_id, parent_span_id, ${INHERITED_COLUMNS}, CASE WHEN genai_kind IS NULL THEN attributes END AS attributes
         FROM spans WHERE tenant_id = $1 AND trace_id = ANY($2::text[]) AND span_id = ANY($3::text[])
         UNION ALL
         SELECT x.span_id, x.parent_span_id, ${INHERITED_COLUMNS.split(", ").map((c) => `NULL::text AS ${c}`).join(", ")},
                (CASE WHEN jsonb_typeof(x.tags) = 'object' THEN x.tags ELSE '{}'::jsonb END) || jsonb_strip_nulls(jsonb_build_object('mplp.user.id', x.context ->> 'userId'))
         FROM executions x WHERE x.trace_id = ANY($2::text[]) AND (x.tenant_id = $1) IS TRUE AND x.span_id = ANY($3::text[]) AND x.source = 'api'`,
        [tenantId, traces, [...frontier.keys()]]
      )
      const next = new Map<string, Array<string>>()
      const seen = new Set<string>()
      for (const r of rows) {
        if (seen.has(r.span_id)) continue
        seen.add(r.span_id)
        const waiting = frontier.get(r.span_id) ?? []
        const attrs = r.attributes ?? {}
        const stored = r.genai_kind ?? null
        const own = stored !== null ? null : isGenaiSpan(attrs) ? recognize(attrs, 0, NOTHING_INHERITED) : null
        const inherited = stored !== null ? inheritedOfColumns(r) : own === null ? inheritedFrom(attrs, null, NOTHING_INHERITED) : inheritedOfRecord(own)
        for (const w of waiting) acc.set(w, merge(acc.get(w) ?? NOTHING_INHERITED, inherited))
        if (stored === null && r.parent_span_id !== null) next.set(r.parent_span_id, [...(next.get(r.parent_span_id) ?? []), ...waiting])
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
 * One level: a child directly under a span of this batch. Such children were stored marked
 * `genai_awaiting`; adoptingTraces says which traces have one, and only their spans are looked for.
 */
const backfillChildren = (q: Queryable, tenantId: string, spans: ReadonlyArray<Pick<SpanRow, "traceId" | "spanId">>, passed: ReadonlyArray<Inherited | undefined>) => {
  const rows = spans.map((s, i) => [s, passed[i] ?? NOTHING_INHERITED] as const)
  if (rows.length === 0) return Effect.void
  // A plain child only stops waiting; a GenAI child also gets the names it lacked.
  const name = (column: string, value: string) => `CASE WHEN s.genai_kind IS NULL THEN NULL ELSE coalesce(s.${column}, ${value}) END`
  return q.query(
    `UPDATE spans s SET genai_awaiting = NULL,
       genai_agent = ${name("genai_agent", "u.agent")},
       genai_agent_id = CASE WHEN s.genai_kind IS NULL THEN NULL WHEN s.genai_agent IS NULL THEN u.agent_id ELSE s.genai_agent_id END,
       genai_parent_agent = CASE WHEN s.genai_kind = 'agent' AND s.genai_parent_agent IS NULL AND u.agent IS DISTINCT FROM s.genai_agent THEN u.agent ELSE s.genai_parent_agent END,
       genai_tool = ${name("genai_tool", "u.tool")},
       genai_conversation = ${name("genai_conversation", "u.conv")},
       genai_user = ${name("genai_user", "u.usr")}
     FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[]) AS u(tr, sp, agent, agent_id, tool, conv, usr)
     WHERE s.tenant_id = $1 AND s.trace_id = u.tr AND s.parent_span_id = u.sp AND s.genai_awaiting`,
    [tenantId, rows.map(([s]) => s.traceId), rows.map(([s]) => s.spanId), rows.map(([, p]) => p.agentName), rows.map(([, p]) => p.agentId),
      rows.map(([, p]) => p.toolName), rows.map(([, p]) => p.conversationId), rows.map(([, p]) => p.userId)]
  ).pipe(Effect.asVoid)
}

/**
 * The GenAI records of each span of the batch. Costs one pass over the attribute keys per span when the
 * batch holds no GenAI span, and no query; else the stored ancestors' lookup when a span's parent is not
 * in the batch. What the batch's traces have stored (children waiting for a parent of the batch, loop
 * calls) is looked at once the batch is written (settleAwaiting, storedLoopCalls): one look then sees
 * what a look before the insert would have seen, and more.
 */
export const deriveGenai = (q: Queryable, tenantId: string, spans: ReadonlyArray<SpanRow>, pricing: ReadonlyArray<Price>) =>
  Effect.gen(function* () {
    const out: Array<GenaiRecord | undefined> = new Array(spans.length)
    let any = false
    for (const s of spans) if (isGenaiSpan(s.attributes)) { any = true; break }
    if (!any) return { records: out, awaiting: [], passed: [], externalTraces: new Set(), loopTraces: new Set() } satisfies Derived
    // Each span's parent in the batch (its index), none (-1: a root), or elsewhere (-2).
    const parentAt = parentsInBatch(spans)
    // The topmost in-batch ancestor of each span whose parent is elsewhere: its parent is looked up once.
    const external = new Set<string>()
    const traces = new Set<string>()
    spans.forEach((s, i) => {
      if (parentAt[i] === -2) {
        external.add(s.parentSpanId!)
        traces.add(s.traceId)
      }
    })
    const stored = external.size === 0 ? new Map<string, Inherited>() : yield* storedInheritance(q, tenantId, [...traces], [...external])
    // Inheritance computed parent first; a chain is walked once (memoised), iteratively (no recursion on
    // depth); `walk` marks the spans of the chain being walked (a cycle of parents ends it).
    const passed: Array<Inherited | undefined> = new Array(spans.length)
    const awaiting: Array<boolean> = new Array(spans.length).fill(false)
    const walk = new Int32Array(spans.length)
    const table = compilePricing(pricing)
    const resolve = (start: number): void => {
      const chain: Array<number> = []
      let i = start
      let base: Inherited = NOTHING_INHERITED
      for (;;) {
        if (passed[i] !== undefined) {
          base = passed[i]!
          break
        }
        if (walk[i] === start + 1) break
        walk[i] = start + 1
        chain.push(i)
        const p = parentAt[i]!
        if (p === -1) break
        if (p === -2) {
          base = stored.get(spans[i]!.parentSpanId!) ?? NOTHING_INHERITED
          break
        }
        i = p
      }
      for (let k = chain.length - 1; k >= 0; k--) {
        const j = chain[k]!
        const s = spans[j]!
        const rec = recognize(s.attributes, s.statusCode, base)
        if (k === chain.length - 1 && parentAt[j] === -2 && !stored.has(s.parentSpanId!)) awaiting[j] = true
        out[j] = rec === null ? undefined : priced(table, rec, s.startTimeMs)
        base = inheritedFrom(s.attributes, rec, base)
        passed[j] = base
      }
    }
    for (let i = 0; i < spans.length; i++) if (passed[i] === undefined) resolve(i)
    // Traces of the batch with calls that may repeat: loops count every call of the trace (storedLoopCalls).
    const loopTraces = new Set<string>()
    spans.forEach((s, i) => {
      const g = out[i]
      if (g !== undefined && loopKeyOf(g) !== null) loopTraces.add(s.traceId)
    })
    return { records: out, awaiting, passed, externalTraces: traces, loopTraces } satisfies Derived
  }).pipe(Effect.withSpan("Genai.derive"))

/**
 * Each span's parent in the batch (its index), none (-1) or elsewhere (-2). Found by span id, the
 * parent's trace compared: a key of trace and span id built per span (and hashed afresh) cost more than
 * the rest of the derivation in profiles. Span ids repeated across traces of the batch (16 random hex
 * digits: in practice never) fall back to those keys.
 */
export const parentsInBatch = (spans: ReadonlyArray<SpanRow>): Array<number> => {
  const bySpan = new Map<string, number>()
  let clash = false
  for (let i = 0; i < spans.length; i++) {
    const s = spans[i]!
    const prev = bySpan.get(s.spanId)
    if (prev !== undefined && spans[prev]!.traceId !== s.traceId) clash = true
    bySpan.set(s.spanId, i)
  }
  if (clash) {
    const byId = new Map<string, number>()
    spans.forEach((s, i) => byId.set(`${s.traceId}/${s.spanId}`, i))
    return spans.map((s) => (s.parentSpanId === null ? -1 : byId.get(`${s.traceId}/${s.parentSpanId}`) ?? -2))
  }
  return spans.map((s) => {
    if (s.parentSpanId === null) return -1
    const p = bySpan.get(s.parentSpanId)
    return p !== undefined && spans[p]!.traceId === s.traceId ? p : -2
  })
}

export interface Derived {
  /** The GenAI record of each span of the batch (undefined for a span that is none). */
  readonly records: ReadonlyArray<GenaiRecord | undefined>
  /** Whether each span is stored before its parent (neither in the batch nor stored): genai_awaiting. */
  readonly awaiting: ReadonlyArray<boolean>
  /** Traces with a span whose parent is not in the batch: they may have spans stored before it. */
  readonly externalTraces: ReadonlySet<string>
  /** Traces with a call of the batch that may repeat (a tool call, a model call: loops.ts). */
  readonly loopTraces: ReadonlySet<string>
  /** What each span passes on to its children (its names, own or inherited), for settleAwaiting. */
  readonly passed: ReadonlyArray<Inherited | undefined>
}

/**
 * After the batch is stored: a child stored before its parent (an exporter that sends each span as it
 * ends sends the child first) gets the parent's names. A parent and its child stored at the same moment
 * by two slots (both batches in the stage at once) each looked for the other in `deriveGenai`, before
 * either was written, so neither found it. Each side looks once its rows are written, and the one that
 * looks last finds the other (each statement sees what was written before it began):
 * - a span of the batch stored waiting whose parent is now stored takes what that parent passes on;
 * - a stored span waiting for a span of the batch takes what it passes on (the probe; only while the
 *   tenant may have waiting spans: src/ingest/genai/awaitingFlag.ts).
 * A redelivered batch runs it again; it changes only spans still waiting. Gives the traces of the batch
 * in which it found stored spans waiting for a span of the batch (those traces have spans stored before
 * it: storedLoopCalls counts them).
 */
export const settleAwaiting = (
  q: Queryable, tenantId: string, spans: ReadonlyArray<SpanRow>, derived: Derived,
  mayHaveAwaiting: Effect.Effect<boolean, unknown> = Effect.succeed(true)
) =>
  Effect.gen(function* () {
    const waiting = spans.filter((_, i) => derived.awaiting[i] === true)
    if (waiting.length > 0) {
      const found = yield* storedInheritance(q, tenantId, [...new Set(waiting.map((s) => s.traceId))], [...new Set(waiting.map((s) => s.parentSpanId!))])
      const parents = new Map<string, Pick<SpanRow, "traceId" | "spanId">>()
      for (const s of waiting) if (found.has(s.parentSpanId!)) parents.set(`${s.traceId}/${s.parentSpanId!}`, { traceId: s.traceId, spanId: s.parentSpanId! })
      if (parents.size > 0) yield* backfillChildren(q, tenantId, [...parents.values()], [...parents.values()].map((p) => found.get(p.spanId)))
    }
    // No span of the tenant stored before its parent (src/ingest/genai/awaitingFlag.ts): nothing to probe.
    if (!derived.records.some((r) => r !== undefined) || !(yield* mayHaveAwaiting)) return new Set<string>()
    return yield* adoptWaitingChildren(q, tenantId, spans, derived.passed, [...new Set(spans.map((s) => s.traceId))])
  }).pipe(Effect.withSpan("Genai.settleAwaiting"))

/**
 * The loop calls stored of the batch's traces besides the batch's own spans, by trace and key
 * (src/ingest/genai/loops.ts), once the batch is written and settled (`adopting`: what settleAwaiting
 * gave). Only traces with a call in the batch that have spans stored elsewhere are looked up: a span of
 * the batch hangs under a span not in it, or a stored span waited for one of the batch's.
 */
export const storedLoopCalls = (q: Queryable, tenantId: string, spans: ReadonlyArray<SpanRow>, derived: Derived, adopting: ReadonlySet<string>) => {
  const counted = [...derived.loopTraces].filter((t) => derived.externalTraces.has(t) || adopting.has(t))
  if (counted.length === 0) return Effect.succeed(new Map<string, number>())
  return storedCallsOfTraces(q, tenantId, counted, spans.map((s) => s.spanId), loopsFromMs(spans))
}

/**
 * The traces of `traces` with a stored span waiting for a parent of this batch (spans_genai_awaiting:
 * only spans stored before their parent, usually none): one statement per GenAI batch, as the embedded
 * database charges about a millisecond for any.
 */
const adoptingTraces = (q: Queryable, tenantId: string, traces: ReadonlyArray<string>, ids: ReadonlySet<string>) =>
  traces.length === 0 ? Effect.succeed(new Set<string>()) : q.query<{ trace_id: string; parent_span_id: string }>(
    // The trace ids as one text (hex ids, no comma): an array parameter costs the embedded database about
    // a microsecond per element to take in; the parents are matched here.
    `SELECT trace_id, parent_span_id FROM spans
     WHERE tenant_id = $1 AND genai_awaiting AND trace_id = ANY(string_to_array($2, ',')) LIMIT 10000`,
    [tenantId, traces.join(",")]
  ).pipe(Effect.map((rows) => new Set(rows.filter((r) => ids.has(r.parent_span_id)).map((r) => r.trace_id))))

/**
 * Stored spans of `traces` waiting for a parent of this batch get what it passes on (`passed`, by span):
 * the probe, then the back-fill of the traces it found. Gives those traces.
 */
const adoptWaitingChildren = (q: Queryable, tenantId: string, spans: ReadonlyArray<SpanRow>, passed: ReadonlyArray<Inherited | undefined>, traces: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const adopting = yield* adoptingTraces(q, tenantId, traces, new Set(spans.map((s) => s.spanId)))
    if (adopting.size > 0) {
      const at = spans.flatMap((s, i) => (adopting.has(s.traceId) ? [i] : []))
      yield* backfillChildren(q, tenantId, at.map((i) => spans[i]!), at.map((i) => passed[i]))
    }
    return adopting
  })


/**
 * The loop calls of `traces` stored besides the batch, from `fromMs` on (loopsFromMs), by trace and key.
 * The batch's own spans are left out (stored already, they count as the batch's). Per trace (OFFSET 0 keeps the probe per
 * row): with a tenant's statistics stale, a `trace_id = ANY` scan was planned over all of the tenant's spans.
 */
const storedCallsOfTraces = (q: Queryable, tenantId: string, traces: ReadonlyArray<string>, ids: ReadonlyArray<string>, fromMs: number) =>
  q.query<{ trace_id: string; repeated: string; calls: number }>(
    `SELECT t.tr AS trace_id, c.repeated, count(*)::int AS calls
     FROM unnest($2::text[]) AS t(tr)
     CROSS JOIN LATERAL (SELECT ${LOOP_KEY_SQL} AS repeated FROM spans
                         WHERE tenant_id = $1 AND trace_id = t.tr AND start_time >= to_timestamp($4 / 1000.0)
                           AND NOT (span_id = ANY($3::text[])) AND ${LOOP_CALL_SQL} OFFSET 0) c
     GROUP BY 1, 2`,
    [tenantId, traces, ids, fromMs]
  ).pipe(Effect.map(storedCallsOf))
