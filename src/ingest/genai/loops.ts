import type { SpanRow } from "../../domain/jobs.ts"
import type { GenaiRecord } from "./recognize.ts"
import { once } from "../pgArrays.ts"

// Runaway agents: the same tool, or the same agent → model call, more than settings.detector.maxRepeatedCalls
// times in one execution (a trace) raises agent_loop_suspected, once per execution (the notification's
// message id is the execution's). Counted over every stored span of the trace, whatever batch it came
// in: the batch's own calls plus the trace's other stored calls (storedLoopCalls in derive.ts), so a
// trace whose last batch is a whole subtree still counts its earlier ones, and a redelivered batch
// counts the same.

/** How far back a trace's stored calls are counted: a day before the batch's earliest span. */
export const LOOP_LOOKBACK_MS = 86_400_000

/** Where a batch's count of its traces' stored calls starts: LOOP_LOOKBACK_MS before its earliest span. */
export const loopsFromMs = (spans: ReadonlyArray<Pick<SpanRow, "startTimeMs">>): number => {
  let earliest = Number.POSITIVE_INFINITY
  for (const s of spans) if (s.startTimeMs < earliest) earliest = s.startTimeMs
  return earliest - LOOP_LOOKBACK_MS
}

export interface Loop { readonly traceId: string; readonly repeated: string; readonly calls: number }

const toolLoopKey = (tool: string) => `tool:${tool}`
const modelLoopKey = (agent: string) => (model: string) => `agent:${agent}->model:${model}`

type Call = GenaiRecord & ({ readonly kind: "tool"; readonly toolName: string } | { readonly kind: "model"; readonly model: string })

/** Whether the record is a call that could repeat: a tool call with its tool, or a model call with its model. */
const isCall = (g: GenaiRecord): g is Call => (g.kind === "tool" && g.toolName !== null) || (g.kind === "model" && g.model !== null)

/** The key of a call by these makers of its tool's or agent → model's key; null for a record that is no call. */
const loopKeyBy = (tool: (name: string) => string, model: (agent: string) => (model: string) => string) => (g: GenaiRecord): string | null =>
  !isCall(g) ? null : g.kind === "tool" ? tool(g.toolName) : model(g.agentName ?? "")(g.model)

/** What repeats, as the alert names it: `tool:<name>` or `agent:<name>->model:<model>`; null for a call that is neither. */
export const loopKeyOf = loopKeyBy(toolLoopKey, modelLoopKey)

const MODEL_SQL = "coalesce(genai_response_model, genai_request_model)"
export const LOOP_KEY_SQL = `CASE genai_kind WHEN 'tool' THEN 'tool:' || genai_tool ELSE 'agent:' || coalesce(genai_agent, '') || '->model:' || ${MODEL_SQL} END`
/** Whether a stored span is a call that could repeat (coalesce: a plain span, genai_kind NULL, is false, not NULL). */
export const LOOP_CALL_SQL = `((coalesce(genai_kind, '') = 'tool' AND genai_tool IS NOT NULL) OR (coalesce(genai_kind, '') = 'model' AND ${MODEL_SQL} IS NOT NULL))`

/** loopKeyOf, each distinct key built once (by tool, or by agent and model). */
const loopKeyMemo = () => loopKeyBy(once(toolLoopKey), once((agent: string) => once(modelLoopKey(agent))))

/** The key of a trace's stored calls of one kind in storedCallsOf's map: trace id, NUL, what repeats (a trace id holds no NUL). */
const STORED_KEY_SEPARATOR = "\u0000"
const storedKey = (traceId: string, repeated: string) => `${traceId}${STORED_KEY_SEPARATOR}${repeated}`

/** Pure: per trace, its most repeated call when it repeats more than `max` times (`stored`: other stored calls by trace and key). */
export const loopsOf = (
  spans: ReadonlyArray<SpanRow>, genai: ReadonlyArray<GenaiRecord | undefined>, stored: ReadonlyMap<string, number>, max: number
): Array<Loop> => loopsAndRechecks(spans, genai, stored, max).loops

/**
 * `loops` as loopsOf, and `recheck`: the traces to count again once the batches stored beside this one
 * are committed. Batches of one trace stored at the same moment (`concurrentBatches` of them at most: the
 * ingest stage's slots for the tenant's partition) each count only the calls stored before them, not
 * each other's; when together they exceed the limit, one of them holds more than max / concurrentBatches
 * of it (with what was stored before), and its recount sees them all.
 */
export const loopsAndRechecks = (
  spans: ReadonlyArray<SpanRow>, genai: ReadonlyArray<GenaiRecord | undefined>, stored: ReadonlyMap<string, number>, max: number,
  concurrentBatches = 2
): { readonly loops: Array<Loop>; readonly recheck: Array<string> } => {
  // A call counts toward a recheck past max / concurrentBatches, toward a loop past max: a trace whose
  // calls in the batch and stored, all together, stay at or under the first is counted no further (most
  // traces: a few calls each).
  const threshold = max / Math.max(2, concurrentBatches)
  const total = new Map<string, number>()
  for (const [key, n] of stored) {
    const traceId = key.slice(0, key.indexOf(STORED_KEY_SEPARATOR))
    total.set(traceId, (total.get(traceId) ?? 0) + n)
  }
  // A trace's spans mostly sit together in a batch: a run of them is added to its total at once (a map
  // update per call showed in profiles).
  let run: string | undefined
  let runCalls = 0
  for (let i = 0; i < genai.length; i++) {
    const g = genai[i]
    if (g === undefined || !isCall(g)) continue
    const traceId = spans[i]!.traceId
    if (traceId === run) {
      runCalls++
      continue
    }
    if (run !== undefined) total.set(run, (total.get(run) ?? 0) + runCalls)
    run = traceId
    runCalls = 1
  }
  if (run !== undefined) total.set(run, (total.get(run) ?? 0) + runCalls)
  // By trace, then by what repeats (keys made once per name of the batch, not per call): a key of trace
  // and call built per span cost more than the rest of the count in profiles.
  const byTrace = new Map<string, Map<string, { traceId: string; repeated: string; calls: number }>>()
  const keyOf = loopKeyMemo()
  let last: string | undefined
  let lastOver = false
  for (let i = 0; i < genai.length; i++) {
    const g = genai[i]
    if (g === undefined) continue
    const t = spans[i]!.traceId
    if (t !== last) {
      last = t
      lastOver = (total.get(t) ?? 0) > threshold
    }
    if (!lastOver) continue
    const repeated = keyOf(g)
    if (repeated === null) continue
    let calls = byTrace.get(t)
    if (calls === undefined) byTrace.set(t, (calls = new Map()))
    const c = calls.get(repeated)
    if (c === undefined) calls.set(repeated, { traceId: t, repeated, calls: 1 + (stored.get(storedKey(t, repeated)) ?? 0) })
    else c.calls++
  }
  const counts = [...byTrace.values()].flatMap((m) => [...m.values()])
  const found = new Map<string, Loop>()
  const near = new Set<string>()
  for (const c of counts) {
    const best = found.get(c.traceId)
    if (c.calls > max && (best === undefined || c.calls > best.calls)) found.set(c.traceId, c)
    else if (c.calls <= max && c.calls * Math.max(2, concurrentBatches) > max) near.add(c.traceId)
  }
  return { loops: [...found.values()], recheck: [...near].filter((t) => !found.has(t)) }
}

/** The most repeated call of each of `traces` (of tenant $1, ids $2, calls from $3 ms on) when it repeats more than $4 times. */
export const LOOPS_OF_STORED_SQL = `SELECT DISTINCT ON (trace_id) trace_id, repeated, calls FROM (
    SELECT t.tr AS trace_id, c.repeated, count(*)::int AS calls
    FROM unnest($2::text[]) AS t(tr)
    CROSS JOIN LATERAL (SELECT ${LOOP_KEY_SQL} AS repeated FROM spans
                        WHERE tenant_id = $1 AND trace_id = t.tr AND start_time >= to_timestamp($3 / 1000.0) AND ${LOOP_CALL_SQL} OFFSET 0) c
    GROUP BY 1, 2 HAVING count(*) > $4) x
  ORDER BY trace_id, calls DESC`

export const storedCallsOf = (rows: ReadonlyArray<{ trace_id: string; repeated: string; calls: number }>): Map<string, number> =>
  new Map(rows.map((r) => [storedKey(r.trace_id, r.repeated), Number(r.calls)]))
