import { describe, expect, it } from "vitest"
import fc from "fast-check"
import { evaluateBudget } from "../../src/alerting/budgets.ts"
import type { Budget } from "../../src/domain/pricing.ts"
import { compilePricing, priceAt, priced } from "../../src/ingest/genai/cost.ts"
import { isContentKey, NOTHING_INHERITED, recognize, tokenValue } from "../../src/ingest/genai/recognize.ts"
import { sanitizeGenai } from "../../src/ingest/genai/sanitize.ts"
import type { SpanRow } from "../../src/ingest/otlp/normalize.ts"
import type { SpanRow as JobSpanRow } from "../../src/domain/jobs.ts"
import { genaiValues, recordOfColumns } from "../../src/ingest/genai/columns.ts"
import { HELD_KEYS, holdAttributes } from "../../src/ingest/genai/heldAttributes.ts"
import { nullableArray } from "../../src/ingest/pgArrays.ts"
import { loopsAndRechecks, loopsOf } from "../../src/ingest/genai/loops.ts"
import { parentsInBatch } from "../../src/ingest/genai/derive.ts"
import { foldBatch } from "../../src/aggregation/partials.ts"
import { foldPoints, parseWindowKey } from "../../src/aggregation/window.ts"
import { seriesKeyOf } from "../../src/domain/pipeline.ts"

// The pure parts of the GenAI recognition: conventions, token validation, prices, budgets.

describe("recognize", () => {
  it("maps the older names to the current ones", () => {
    const r = recognize({ "gen_ai.system": "anthropic", "gen_ai.request.model": "claude-3-5-haiku", "gen_ai.usage.prompt_tokens": 7, "gen_ai.usage.completion_tokens": "3" }, 0, NOTHING_INHERITED)
    expect(r).toMatchObject({ kind: "model", operation: null, provider: "anthropic", model: "claude-3-5-haiku", inputTokens: 7, outputTokens: 3 })
  })
  it("prefers the current names when both are present, and knows a plain span from a GenAI one", () => {
    expect(recognize({ "gen_ai.usage.input_tokens": 10, "gen_ai.usage.prompt_tokens": 99, "gen_ai.request.model": "m" }, 0, NOTHING_INHERITED)?.inputTokens).toBe(10)
    expect(recognize({ "http.method": "GET", "agent.name": "x" }, 0, NOTHING_INHERITED)).toBeNull()
  })
  it("takes each field from the first of its names with a usable value, in the conventions' order", () => {
    const names: Record<string, ReadonlyArray<string>> = {
      provider: ["gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"],
      requestModel: ["gen_ai.request.model", "llm.model_name"],
      agentName: ["gen_ai.agent.name", "agent.name"],
      agentId: ["gen_ai.agent.id", "agent.id"],
      toolName: ["gen_ai.tool.name", "tool.name"],
      conversationId: ["gen_ai.conversation.id", "session.id"],
      userId: ["user.id", "enduser.id", "mplp.user.id"],
      inputTokens: ["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"],
      outputTokens: ["gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion"],
      cacheReadTokens: ["gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens", "llm.token_count.prompt_details.cache_read"],
      cacheWriteTokens: ["gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cache_creation_input_tokens", "llm.token_count.prompt_details.cache_write"]
    }
    for (const [field, keys] of Object.entries(names)) {
      const counts = field.endsWith("Tokens")
      keys.forEach((_, i) => {
        // The names before i present but unusable (empty text, a count that is none), i and after usable.
        const a: Record<string, unknown> = { "gen_ai.operation.name": "chat" }
        keys.forEach((k, j) => (a[k] = j < i ? (counts ? "many" : "") : counts ? 10 + j : `${field}-${j}`))
        expect(recognize(a, 0, NOTHING_INHERITED)?.[field as "provider"], `${field} from ${keys[i]}`).toBe(counts ? 10 + i : `${field}-${i}`)
      })
    }
    // Numbers and booleans are names too; the first usable one wins whatever the order of the keys.
    expect(recognize({ "agent.name": 7, "llm.model_name": "m", "session.id": true, "gen_ai.agent.name": "" }, 0, NOTHING_INHERITED)).toMatchObject({ kind: "model", agentName: "7", conversationId: "true" })
  })
  it("inherits agent, tool, conversation and user but keeps its own", () => {
    const inherited = { agentName: "planner", agentId: "p1", toolName: "search", conversationId: "c", userId: "u" }
    expect(recognize({ "gen_ai.operation.name": "chat", "gen_ai.request.model": "m" }, 2, inherited)).toMatchObject({ agentName: "planner", agentId: "p1", toolName: "search", conversationId: "c", userId: "u", error: true })
    expect(recognize({ "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "writer" }, 0, inherited)).toMatchObject({ kind: "agent", agentName: "writer", agentId: null, parentAgent: "planner" })
  })
  it("takes a token count only when it is a count of at most 1e9", () => {
    fc.assert(fc.property(fc.oneof(fc.double(), fc.integer(), fc.string()), (v) => {
      const t = tokenValue(v)
      const n = typeof v === "number" ? v : v.trim() === "" ? Number.NaN : Number(v)
      expect(typeof t === "number").toBe(Number.isFinite(n) && n >= 0 && n <= 1e9)
    }))
  })
  it("knows message contents from other attributes", () => {
    for (const k of ["gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.prompt", "gen_ai.prompt.0.content", "gen_ai.completion.0.content", "llm.input_messages.0.message.content", "input.value", "output.value"]) expect(isContentKey(k)).toBe(true)
    for (const k of ["gen_ai.request.model", "gen_ai.usage.input_tokens", "llm.model_name", "input.mime_type", "gen_ai.tool.name"]) expect(isContentKey(k)).toBe(false)
  })
  it("sanitises without touching spans that need nothing", () => {
    const span = { traceId: "t", spanId: "s", attributes: { "gen_ai.request.model": "m" }, events: [] } as unknown as SpanRow
    const r = sanitizeGenai([span], false)
    expect(r.spans[0]).toBe(span)
    expect(r.contentDropped + r.warningCount).toBe(0)
  })
})

describe("prices", () => {
  const table = compilePricing([
    { model: "gpt-4o*", inputPerMTok: 2.5, outputPerMTok: 10, effectiveFrom: "2024-01-01" },
    { model: "gpt-4o-mini*", inputPerMTok: 0.15, outputPerMTok: 0.6, effectiveFrom: "2024-01-01" },
    { model: "gpt-4o-mini", inputPerMTok: 1, outputPerMTok: 1, effectiveFrom: "2024-01-01" },
    { model: "gpt-4o*", inputPerMTok: 5, outputPerMTok: 20, effectiveFrom: "2025-01-01" }
  ])
  it("takes the most specific pattern, then the price in force at the span's time", () => {
    expect(priceAt(table, "gpt-4o-mini", Date.parse("2024-06-01"))?.inputPerMTok).toBe(1)
    expect(priceAt(table, "gpt-4o-mini-2024-07-18", Date.parse("2024-06-01"))?.inputPerMTok).toBe(0.15)
    expect(priceAt(table, "gpt-4o-2024-08-06", Date.parse("2024-06-01"))?.inputPerMTok).toBe(2.5)
    expect(priceAt(table, "gpt-4o-2024-08-06", Date.parse("2025-06-01"))?.inputPerMTok).toBe(5)
    expect(priceAt(table, "gpt-4o", Date.parse("2023-06-01"))).toBeUndefined()
  })
  it("never prices unknown tokens at zero", () => {
    const r = recognize({ "gen_ai.request.model": "llama", "gen_ai.usage.input_tokens": 5, "gen_ai.usage.output_tokens": 1 }, 0, NOTHING_INHERITED)!
    expect(priced(table, r, Date.now())).toMatchObject({ costUsd: null, unpricedTokens: 6 })
    const none = recognize({ "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "t" }, 0, NOTHING_INHERITED)!
    expect(priced(table, none, Date.now())).toMatchObject({ costUsd: null, unpricedTokens: 0 })
  })
})

describe("budgets", () => {
  const b: Budget = { id: "b", scope: "agent", window: "1h", limitUsd: 10, warnAtRatio: 0.5 }
  it("warns at the ratio, is critical at the limit, per key, and resolves only what was active", () => {
    const evs = evaluateBudget(b, [{ key: "a", costUsd: 6 }, { key: "c", costUsd: 11 }, { key: "d", costUsd: 1 }, { key: "", costUsd: 100 }], new Set(["budget|b|e"]), 1000)
    expect(evs.map((e) => [e.seriesKey, e.severity, e.value])).toEqual([
      ["budget|b|a", "warning", 6], ["budget|b|c", "critical", 11], ["budget|b|e", "none", 0]
    ])
    const tenant = evaluateBudget({ ...b, scope: "tenant" }, [{ key: "", costUsd: 4 }, { key: "", costUsd: 3 }], new Set(), 1000)
    expect(tenant.map((e) => [e.seriesKey, e.severity, e.value])).toEqual([["budget|b|", "warning", 7]])
    expect(evaluateBudget({ ...b, match: "a*" }, [{ key: "a1", costUsd: 20 }, { key: "b1", costUsd: 20 }], new Set(), 0).map((e) => e.seriesKey)).toEqual(["budget|b|a1"])
  })
})

describe("loops and stored records", () => {
  const span = (traceId: string, spanId: string) => ({ traceId, spanId }) as unknown as JobSpanRow
  const tool = recognize({ "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "fetch" }, 0, { ...NOTHING_INHERITED, agentName: "a" })!
  const model = recognize({ "gen_ai.operation.name": "chat", "gen_ai.request.model": "m" }, 0, { ...NOTHING_INHERITED, agentName: "a" })!
  it("adds the calls stored before the batch to the batch's own, per trace and key, and names the most repeated", () => {
    const spans = [span("t1", "1"), span("t1", "2"), span("t1", "3"), span("t2", "4")]
    const stored = new Map([["t1\u0000tool:fetch", 24], ["t1\u0000agent:a->model:m", 30], ["t2\u0000tool:fetch", 25]])
    expect(loopsOf(spans, [tool, tool, model, undefined], stored, 25)).toEqual([{ traceId: "t1", repeated: "agent:a->model:m", calls: 31 }])
    // Without a call of the key in the batch, the stored ones alone raise nothing (they were counted when stored).
    expect(loopsOf([span("t2", "5")], [model], stored, 25)).toEqual([])
    expect(loopsOf(spans, [tool, tool, model, tool], new Map(), 2)).toEqual([])
  })
  it("recounts a trace whose batch could be one of as many stored at once as the stage has slots, together over the limit", () => {
    // Four batches of one trace stored side by side (four slots), 7 calls each: 28 > 25, yet each sees only its own 7.
    const batch = Array.from({ length: 7 }, (_, i) => span("t1", String(i)))
    const calls = batch.map(() => tool)
    const alone = loopsAndRechecks(batch, calls, new Map(), 25, 4)
    expect(alone.loops).toEqual([])
    expect(alone.recheck).toEqual(["t1"])
    // With two slots two batches over the limit hold more than half of it between them: 7 is no reason to count again.
    expect(loopsAndRechecks(batch, calls, new Map(), 25, 2).recheck).toEqual([])
    // Nor is a trace far under the limit for any number of slots that could not reach it together.
    expect(loopsAndRechecks(batch.slice(0, 3), calls.slice(0, 3), new Map(), 25, 4).recheck).toEqual([])
  })
  it("stores a record in typed columns and reads the same record back", () => {
    fc.assert(fc.property(fc.record({ input: fc.option(fc.nat()), agent: fc.option(fc.string({ minLength: 1 })), error: fc.boolean() }), ({ input, agent, error }) => {
      const attrs: Record<string, unknown> = { "gen_ai.operation.name": "chat", "gen_ai.request.model": "m", "gen_ai.response.model": "m-1" }
      if (input !== null) attrs["gen_ai.usage.input_tokens"] = input
      if (agent !== null) attrs["gen_ai.agent.name"] = agent
      const r = priced(compilePricing([]), recognize(attrs, error ? 2 : 0, NOTHING_INHERITED)!, 0)
      const values = genaiValues([r, undefined], [false, true])
      const row = Object.fromEntries(values.map((c) => [c.column, c.values[0]]))
      expect(recordOfColumns(row)).toEqual(r)
      // A plain span stored before its parent: only genai_awaiting, and no record.
      expect(recordOfColumns(Object.fromEntries(values.map((c) => [c.column, c.values[1]])))).toBeNull()
      expect(values.find((c) => c.column === "genai_awaiting")?.values).toEqual([null, true])
    }))
  })
})

describe("derived series", () => {
  it("folds a batch's GenAI points into one partial per series and window, keys escaped", () => {
    const at = (metricName: string, operation: string, timeMs: number, value: number) => ({ metricName, serviceName: "", operation, timeMs, value })
    const parts = foldBatch([at("genai.model.tokens", "model=a|b", 1000, 5), at("genai.model.tokens", "model=a|b", 2000, 7), at("genai.model.tokens", "model=c", 1500, 1), at("genai.model.tokens", "model=a|b", 12_000, 1)], 10_000)
    expect(parts.map((p) => [p.operation, p.windowStartMs, p.agg.count, p.agg.sum])).toEqual([["model=a|b", 0, 2, 12], ["model=c", 0, 1, 1], ["model=a|b", 10_000, 1, 1]])
  })
  it("puts a series' points at a window's edges in their own windows (its latest window is reused only for a point inside it)", () => {
    const times = [0, 9_999.999, 10_000, 9_999.5, 5, 19_999.5, 20_000, -0.001, -10_000]
    const parts = foldBatch(times.map((timeMs, i) => ({ metricName: "genai.model.latencyMs", serviceName: "", operation: "model=m", timeMs, value: i })), 10_000)
    expect(parts.map((p) => [p.windowStartMs, p.agg.count, p.agg.sum])).toEqual([[0, 4, 0 + 1 + 3 + 4], [10_000, 2, 2 + 5], [20_000, 1, 6], [-10_000, 2, 7 + 8]])
  })
  it("folds as foldPoints over the points' series keys: same partials, same order", () => {
    const part = fc.constantFrom("a", "b", "a|b", "", "a\\|")
    const point = fc.record({ metricName: part, serviceName: part, operation: part, timeMs: fc.oneof(
      fc.integer({ min: -30_000, max: 30_000 }), fc.double({ noNaN: true, min: -30_000, max: 30_000 }),
      // At a window's edges (a series' latest window is reused while a point falls in it), and a span's fractional milliseconds.
      fc.constantFrom(-10_000, -0.001, 0, 9_999.999, 10_000, 19_999.5, 20_000, 1_733_500_000_123.456), fc.constant(Number.NaN)), value: fc.oneof(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), fc.constant(Number.POSITIVE_INFINITY)) })
    fc.assert(fc.property(fc.array(point, { maxLength: 60 }), (points) => {
      const byKey = new Map(points.map((p) => [seriesKeyOf(p), { metricName: p.metricName, serviceName: p.serviceName, operation: p.operation }]))
      const reference = [...foldPoints(points.map((p) => ({ series: seriesKeyOf(p), timeMs: p.timeMs, value: p.value })), 10_000)].map(([k, agg]) => {
        const { series, windowStartMs } = parseWindowKey(k)
        return { ...byKey.get(series)!, windowStartMs, agg }
      })
      expect(foldBatch(points, 10_000)).toEqual(reference)
    }))
  })
})

describe("attributes held by the genai columns", () => {
  it("holds a recognised attribute only when its column has the very value and JSON type", () => {
    expect(HELD_KEYS.length).toBeLessThanOrEqual(31)
    const a = { "gen_ai.operation.name": "chat", "gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 5, "gen_ai.usage.output_tokens": "7", "gen_ai.agent.id": "a-1", "http.route": "/x" }
    const r = recognize(a, 0, NOTHING_INHERITED)!
    const { attributes, held } = holdAttributes(a, r)
    // The count sent as text stays, and so does an agent id without an agent name (the back-fill may rewrite its column).
    expect(attributes).toEqual({ "gen_ai.usage.output_tokens": "7", "gen_ai.agent.id": "a-1", "http.route": "/x" })
    expect(HELD_KEYS.filter((_, i) => ((held ?? 0) & (1 << i)) !== 0).sort()).toEqual(["gen_ai.operation.name", "gen_ai.request.model", "gen_ai.usage.input_tokens"])
    // A name inherited from a parent is no attribute of the span: nothing to hold.
    const plain = { "gen_ai.request.model": 3 }
    expect(holdAttributes(plain, recognize(plain, 0, { ...NOTHING_INHERITED, agentName: "p" })!)).toEqual({ attributes: plain, held: null })
    expect(holdAttributes(plain, undefined).attributes).toBe(plain)
  })
  it("writes nullable array literals as PostgreSQL reads them", () => {
    expect(nullableArray("text", ["a", null, 'q"b\\', "a"])).toBe('{"a",NULL,"q\\"b\\\\","a"}')
    expect(nullableArray("float8", [1.5, null, 1e21])).toBe("{1.5,NULL,1e+21}")
    expect(nullableArray("bool", [true, null])).toBe("{t,NULL}")
    expect(nullableArray("int4", [null, 1025])).toBe("{NULL,1025}")
  })
})

describe("parentsInBatch", () => {
  const span = (traceId: string, spanId: string, parentSpanId: string | null) => ({ traceId, spanId, parentSpanId }) as unknown as JobSpanRow
  it("finds a parent in the batch by span id only within its own trace", () => {
    const spans = [span("t1", "a", null), span("t1", "b", "a"), span("t2", "c", "a"), span("t2", "d", "x")]
    expect(parentsInBatch(spans)).toEqual([-1, 0, -2, -2])
  })
  it("keeps the traces apart when two traces of the batch reuse a span id", () => {
    // "a" is a root in t1 and a child's parent in t2, where it is t2's own span.
    const spans = [span("t1", "a", null), span("t2", "a", null), span("t2", "b", "a"), span("t1", "c", "a")]
    expect(parentsInBatch(spans)).toEqual([-1, -1, 1, 0])
  })
})
