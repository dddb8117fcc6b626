import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"
import { otlpTraces, spanId, traceId } from "../support/otlpJson.ts"
import type { SpanSpec } from "../support/otlpJson.ts"
import { genaiSelect, recordOfColumns } from "../../src/ingest/genai/columns.ts"
import type { GenaiColumns } from "../../src/ingest/genai/columns.ts"
import { spanAttributesSql } from "../../src/ingest/genai/heldAttributes.ts"
import type { GenaiRecord } from "../../src/ingest/genai/recognize.ts"

// GenAI spans through the public OTLP endpoint: recognised (current, older and OpenInference names),
// names inherited, priced with the tenant's table at the span's time, contents dropped, bad counts ignored.

let app: TestApp
beforeAll(async () => {
  app = await startApp()
})
afterAll(async () => {
  await app.close()
})

export const PRICING = [
  { model: "gpt-4o*", inputPerMTok: 2.5, outputPerMTok: 10, cacheReadPerMTok: 1.25, effectiveFrom: "2024-01-01" },
  { model: "gpt-4o-mini", inputPerMTok: 0.15, outputPerMTok: 0.6, effectiveFrom: "2024-01-01" },
  // A later price: spans before it keep the old one.
  { model: "claude-3-5-sonnet", inputPerMTok: 3, outputPerMTok: 15, effectiveFrom: "2024-01-01" },
  { model: "claude-3-5-sonnet", inputPerMTok: 6, outputPerMTok: 30, effectiveFrom: "2099-01-01" }
]

const RECORD_KEYS = [
  "kind", "operation", "provider", "requestModel", "responseModel", "model", "agentName", "agentId", "parentAgent", "toolName", "conversationId",
  "workflowName", "userId", "errorType", "error", "inputTokens", "outputTokens", "cacheReadTokens", "cacheWriteTokens", "costUsd", "unpricedTokens"
]
type Genai = Record<string, unknown> & { kind: string; model: string | null; agentName: string | null; toolName: string | null; costUsd: number | null; unpricedTokens: number }

const genaiOf = (tenantId: string, trace: string, expected: number) =>
  eventually(async () => {
    // attributes as readers see them (the held ones put back from the columns), stored as the jsonb holds them.
    const rows = await app.sql<{ span_id: string; attributes: Record<string, unknown>; stored: Record<string, unknown>; events: Array<{ attributes: Record<string, unknown> }> } & GenaiColumns>(
      `SELECT span_id, ${genaiSelect()}, ${spanAttributesSql()} AS attributes, attributes AS stored, events FROM spans WHERE tenant_id = $1 AND trace_id = $2`, [tenantId, trace]
    )
    // Read back as the record, every field present.
    const full = (g: GenaiRecord | null) => (g === null ? null : ({ ...Object.fromEntries(RECORD_KEYS.map((k) => [k, null])), ...g }) as Genai)
    return rows.length === expected ? new Map(rows.map((r) => [r.span_id, { ...r, genai: full(recordOfColumns(r)) }])) : undefined
  })

describe("GenAI spans at ingest", () => {
  it("recognises the current conventions, inherits the agent, prices each model call at the span's time", async () => {
    const t = await app.tenant(undefined, { pricing: PRICING })
    const trace = traceId()
    const [agent, http, chat, mini, tool, claude, plain] = [spanId(), spanId(), spanId(), spanId(), spanId(), spanId(), spanId()]
    const now = Date.now() - 10_000
    const spans: Array<SpanSpec> = [
      { spanId: agent, name: "invoke_agent planner", service: "agents", startMs: now, endMs: now + 3000, attributes: { "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner", "gen_ai.agent.id": "pl-1", "gen_ai.conversation.id": "conv-9" } },
      // A plain span between the agent and its model call passes the agent on.
      { spanId: http, parentSpanId: agent, name: "POST /v1/chat", service: "agents", startMs: now + 10, endMs: now + 1200, attributes: { "http.method": "POST" } },
      {
        spanId: chat, parentSpanId: http, name: "chat gpt-4o", service: "agents", startMs: now + 20, endMs: now + 1100,
        attributes: {
          "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06",
          "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 200, "gen_ai.usage.cache_read.input_tokens": 400
        }
      },
      // Older names: gen_ai.system, prompt_tokens / completion_tokens.
      { spanId: mini, parentSpanId: agent, name: "chat gpt-4o-mini", service: "agents", startMs: now + 1200, endMs: now + 1500, attributes: { "gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.prompt_tokens": 2000, "gen_ai.usage.completion_tokens": 100 } },
      { spanId: tool, parentSpanId: agent, name: "execute_tool web_search", service: "agents", startMs: now + 1600, endMs: now + 1900, error: true, attributes: { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "web_search", "error.type": "timeout" } },
      { spanId: claude, parentSpanId: agent, name: "chat claude", service: "agents", startMs: now + 2000, endMs: now + 2500, attributes: { "gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic", "gen_ai.request.model": "claude-3-5-sonnet", "gen_ai.usage.input_tokens": 100, "gen_ai.usage.output_tokens": 10 } },
      { spanId: plain, parentSpanId: agent, name: "SELECT", service: "db", startMs: now + 2600, endMs: now + 2700 }
    ]
    const res = await call(app, t.key, "POST", "/v1/traces", otlpTraces(trace, spans))
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({})
    const rows = await genaiOf(t.id, trace, 7)
    const g = (id: string) => rows.get(id)?.genai ?? null
    expect(g(agent)).toMatchObject({ kind: "agent", operation: "invoke_agent", agentName: "planner", agentId: "pl-1", parentAgent: null, conversationId: "conv-9" })
    expect(g(http)).toBeNull()
    expect(g(plain)).toBeNull()
    expect(g(chat)).toMatchObject({
      kind: "model", operation: "chat", provider: "openai", requestModel: "gpt-4o", responseModel: "gpt-4o-2024-08-06", model: "gpt-4o-2024-08-06",
      agentName: "planner", conversationId: "conv-9", inputTokens: 1000, outputTokens: 200, cacheReadTokens: 400, unpricedTokens: 0, error: false
    })
    // gpt-4o* prefix: 1000 × 2.5 + 200 × 10 + 400 × 1.25 per million.
    expect(g(chat)?.costUsd).toBeCloseTo((1000 * 2.5 + 200 * 10 + 400 * 1.25) / 1e6, 12)
    // The exact entry wins over the gpt-4o* prefix.
    expect(g(mini)).toMatchObject({ kind: "model", provider: "openai", model: "gpt-4o-mini", inputTokens: 2000, outputTokens: 100, agentName: "planner" })
    expect(g(mini)?.costUsd).toBeCloseTo((2000 * 0.15 + 100 * 0.6) / 1e6, 12)
    expect(g(tool)).toMatchObject({ kind: "tool", toolName: "web_search", agentName: "planner", errorType: "timeout", error: true, costUsd: null, unpricedTokens: 0 })
    // The 2099 price is not in force yet.
    expect(g(claude)?.costUsd).toBeCloseTo((100 * 3 + 10 * 15) / 1e6, 12)
  })

  it("stores the recognised attributes once, in the columns, and shows them as sent in the execution detail and its attr filter", async () => {
    const t = await app.tenant(undefined, { pricing: PRICING })
    const trace = traceId()
    const [agent, chat, oi] = [spanId(), spanId(), spanId()]
    const now = Date.now() - 10_000
    const sent: Record<string, Record<string, string | number | boolean>> = {
      [agent]: {
        "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner", "gen_ai.agent.id": "pl-1", "gen_ai.conversation.id": "conv-9",
        "gen_ai.provider.name": "openai", "user.id": "u-1", "http.route": "/plan"
      },
      [chat]: {
        // Both conventions' names, one with another value (kept in the jsonb); a count sent as text and a
        // fractional one; a key of no column.
        "gen_ai.operation.name": "chat", "gen_ai.system": "openai", "gen_ai.provider.name": "azure", "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06", "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.prompt_tokens": 999,
        "gen_ai.usage.output_tokens": "200", "gen_ai.usage.cache_read.input_tokens": 0.5, "error.type": "rate_limited", "gen_ai.request.temperature": 0.2,
        "server.port": 443, "stream": true
      },
      [oi]: { "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini", "llm.token_count.prompt": 5, "llm.token_count.completion": 7, "tool.name": "search", "session.id": "s-1" }
    }
    const res = await call(app, t.key, "POST", "/v1/traces", otlpTraces(trace, [
      { spanId: agent, name: "invoke_agent planner", service: "agents", startMs: now, endMs: now + 3000, attributes: sent[agent]! },
      { spanId: chat, parentSpanId: agent, name: "chat gpt-4o", service: "agents", startMs: now + 10, endMs: now + 900, error: true, attributes: sent[chat]! },
      { spanId: oi, parentSpanId: agent, name: "ChatCompletion", service: "agents", startMs: now + 1000, endMs: now + 1200, attributes: sent[oi]! }
    ]))
    expect(res.status).toBe(200)
    const rows = await genaiOf(t.id, trace, 3)
    // Read back exactly as sent, values and types (the sent intValue 443 is a number, "200" stays text).
    for (const id of [agent, chat, oi]) expect(rows.get(id)?.attributes).toStrictEqual(sent[id])
    // The jsonb no longer holds what the columns hold…
    expect(rows.get(agent)?.stored).toStrictEqual({ "http.route": "/plan" })
    // …but keeps what they do not: another value under the second name, a count sent as text, a key of no column.
    expect(rows.get(chat)?.stored).toStrictEqual({
      "gen_ai.system": "openai", "gen_ai.usage.prompt_tokens": 999, "gen_ai.usage.output_tokens": "200", "gen_ai.request.temperature": 0.2, "server.port": 443, "stream": true
    })
    expect(rows.get(oi)?.stored).toStrictEqual({ "openinference.span.kind": "LLM" })
    expect(rows.get(chat)?.genai).toMatchObject({ provider: "azure", inputTokens: 1000, outputTokens: 200, cacheReadTokens: 0.5, errorType: "rate_limited", agentName: "planner" })

    // The execution detail (span tree, the console's span panel) shows them as sent.
    const detail = await eventually(async () => {
      const r = await call(app, t.key, "GET", `/api/executions/${trace}`)
      if (r.status !== 200) return undefined
      const d = (await r.json()) as { spans: Array<{ spanId: string; attributes: Record<string, unknown> }> }
      return d.spans.length === 3 ? d : undefined
    })
    for (const s of detail.spans) expect(s.attributes).toStrictEqual(sent[s.spanId])
    // attr.KEY filters find the execution by a recognised attribute of its root span.
    const found = async (query: string) => {
      const r = await call(app, t.key, "GET", `/api/executions?${query}`)
      expect(r.status).toBe(200)
      return ((await r.json()) as { executions: Array<{ executionId: string }> }).executions.map((e) => e.executionId)
    }
    expect(await found("attr.gen_ai.agent.name=planner&attr.gen_ai.conversation.id=conv-9")).toEqual([trace])
    expect(await found("attr.gen_ai.agent.name=writer")).toEqual([])
  })

  it("counts tokens of a model without a price as unpriced, never as free", async () => {
    const t = await app.tenant(undefined, { pricing: PRICING })
    const trace = traceId()
    const s = spanId()
    const now = Date.now() - 5000
    await call(app, t.key, "POST", "/v1/traces", otlpTraces(trace, [
      { spanId: s, name: "chat llama", service: "agents", startMs: now, endMs: now + 100, attributes: { "gen_ai.operation.name": "chat", "gen_ai.request.model": "llama-3-70b", "gen_ai.usage.input_tokens": 70, "gen_ai.usage.output_tokens": 30 } }
    ]))
    const rows = await genaiOf(t.id, trace, 1)
    expect(rows.get(s)?.genai).toMatchObject({ model: "llama-3-70b", costUsd: null, unpricedTokens: 100 })
  })

  it("understands OpenInference attributes and inherits from a parent stored by an earlier request", async () => {
    const t = await app.tenant(undefined, { pricing: PRICING })
    const trace = traceId()
    const [agent, llm, tool] = [spanId(), spanId(), spanId()]
    const now = Date.now() - 5000
    await call(app, t.key, "POST", "/v1/traces", otlpTraces(trace, [
      { spanId: agent, name: "researcher", service: "crew", startMs: now, endMs: now + 2000, attributes: { "openinference.span.kind": "AGENT", "agent.name": "researcher", "session.id": "s-1", "user.id": "u-7" } }
    ]))
    await genaiOf(t.id, trace, 1)
    await call(app, t.key, "POST", "/v1/traces", otlpTraces(trace, [
      { spanId: llm, parentSpanId: agent, name: "ChatCompletion", service: "crew", startMs: now + 100, endMs: now + 900, attributes: { "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o-mini", "llm.provider": "openai", "llm.token_count.prompt": 500, "llm.token_count.completion": 50, "input.value": "secret prompt", "output.value": "secret answer", "llm.input_messages.0.message.content": "hi" } },
      { spanId: tool, parentSpanId: agent, name: "search", service: "crew", startMs: now + 1000, endMs: now + 1200, attributes: { "openinference.span.kind": "TOOL", "tool.name": "search" } }
    ]))
    const rows = await genaiOf(t.id, trace, 3)
    expect(rows.get(agent)?.genai).toMatchObject({ kind: "agent", operation: "invoke_agent", agentName: "researcher", conversationId: "s-1", userId: "u-7" })
    expect(rows.get(llm)?.genai).toMatchObject({ kind: "model", operation: "chat", model: "gpt-4o-mini", provider: "openai", agentName: "researcher", userId: "u-7", conversationId: "s-1", inputTokens: 500, outputTokens: 50 })
    expect(rows.get(llm)?.genai?.costUsd).toBeCloseTo((500 * 0.15 + 50 * 0.6) / 1e6, 12)
    expect(rows.get(tool)?.genai).toMatchObject({ kind: "tool", toolName: "search", agentName: "researcher" })
    // Contents are not stored by default.
    const attrs = rows.get(llm)?.attributes ?? {}
    expect(Object.keys(attrs).filter((k) => k === "input.value" || k === "output.value" || k.startsWith("llm.input_messages"))).toEqual([])
  })

  it("drops message contents unless settings.genai.storeContent, and says how many", async () => {
    const prompt = { "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.input.messages": "[{\"role\":\"user\",\"content\":\"my secret\"}]", "gen_ai.output.messages": "[]", "gen_ai.prompt.0.content": "hello" }
    const off = await app.tenant()
    const trace = traceId()
    const s = spanId()
    const now = Date.now() - 5000
    const res = await call(app, off.key, "POST", "/v1/traces", otlpTraces(trace, [
      { spanId: s, name: "chat", service: "agents", startMs: now, endMs: now + 100, attributes: prompt, events: [{ name: "gen_ai.content.prompt", timeMs: now + 1, attributes: { "gen_ai.prompt": "my secret too" } }] }
    ]))
    expect(res.status).toBe(200)
    const body = (await res.json()) as { partialSuccess?: { rejectedSpans?: number; errorMessage: string } }
    expect(body.partialSuccess?.rejectedSpans ?? 0).toBe(0)
    expect(body.partialSuccess?.errorMessage).toContain("4 GenAI message content attribute(s) dropped")
    expect(body.partialSuccess?.errorMessage).not.toContain("secret")
    const row = (await genaiOf(off.id, trace, 1)).get(s)
    expect(JSON.stringify(row)).not.toContain("secret")
    expect(row?.attributes["gen_ai.request.model"]).toBe("gpt-4o")
    // Counted on the service's own metrics too.
    const metrics = await (await fetch(`${app.baseUrl}/metrics`)).text()
    expect(metrics).toMatch(/mplp_genai_attributes_dropped(_total)?\{[^}]*kind="content"[^}]*\} [1-9]/)

    const on = await app.tenant(undefined, { genai: { storeContent: true } })
    const trace2 = traceId()
    const res2 = await call(app, on.key, "POST", "/v1/traces", otlpTraces(trace2, [{ spanId: s, name: "chat", service: "agents", startMs: now, endMs: now + 100, attributes: prompt }]))
    expect(await res2.json()).toEqual({})
    expect((await genaiOf(on.id, trace2, 1)).get(s)?.attributes["gen_ai.prompt.0.content"]).toBe("hello")
  })

  it("ignores token counts that are not counts and says so, storing the span", async () => {
    const t = await app.tenant(undefined, { pricing: PRICING })
    const trace = traceId()
    const [a, b, c, d] = [spanId(), spanId(), spanId(), spanId()]
    const now = Date.now() - 5000
    const chat = (id: string, extra: Record<string, string | number>): SpanSpec => ({
      spanId: id, name: "chat", service: "agents", startMs: now, endMs: now + 100, attributes: { "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.output_tokens": 10, ...extra }
    })
    const res = await call(app, t.key, "POST", "/v1/traces", otlpTraces(trace, [
      chat(a, { "gen_ai.usage.input_tokens": "lots" }),
      chat(b, { "gen_ai.usage.input_tokens": -5 }),
      chat(c, { "gen_ai.usage.input_tokens": 2e9 }),
      { ...chat(d, { "gen_ai.usage.input_tokens": 10 }), attributes: { "gen_ai.operation.name": "summon_demon", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 10 } }
    ]))
    expect(res.status).toBe(200)
    const { partialSuccess } = (await res.json()) as { partialSuccess: { rejectedSpans?: number; errorMessage: string } }
    expect(partialSuccess.rejectedSpans ?? 0).toBe(0)
    expect(partialSuccess.errorMessage).toContain(`span "${a}" of trace "${trace}": attribute gen_ai.usage.input_tokens ignored: must be a number`)
    expect(partialSuccess.errorMessage).toContain("must be >= 0 (got -5)")
    expect(partialSuccess.errorMessage).toContain("must be at most 1e9 per span (got 2000000000)")
    expect(partialSuccess.errorMessage).toContain('gen_ai.operation.name "summon_demon" is not a known operation')
    const rows = await genaiOf(t.id, trace, 4)
    for (const id of [a, b, c]) {
      expect(rows.get(id)?.genai).toMatchObject({ inputTokens: null, outputTokens: 10 })
      expect(rows.get(id)?.attributes["gen_ai.usage.input_tokens"]).toBeUndefined()
    }
    expect(rows.get(d)?.genai).toMatchObject({ operation: null, kind: "model", inputTokens: 10 })
  })
})

describe("settings.pricing and settings.budgets", () => {
  const put = async (doc: unknown) => {
    const t = await app.tenant()
    const res = await app.admin("PUT", `/api/admin/tenants/${t.id}/settings`, doc)
    return { status: res.status, body: (await res.json()) as { message: string; issues?: Array<{ path: string; message: string }> } }
  }
  const price = { model: "gpt-4o", inputPerMTok: 1, outputPerMTok: 2, effectiveFrom: "2025-01-01" }

  it("takes a valid price table and budgets", async () => {
    const ok = await put({ pricing: [price, { ...price, model: "claude-*", cacheWritePerMTok: 3.75 }], budgets: [{ id: "daily", scope: "tenant", window: "24h", limitUsd: 10 }] })
    expect(ok.status).toBe(200)
  })

  it.each([
    [{ pricing: [{ ...price, model: "gpt*4o" }] }, "pricing.0.model", "only at its end"],
    [{ pricing: [{ ...price, model: "*" }] }, "pricing.0.model", "every model"],
    [{ pricing: [{ ...price, effectiveFrom: "yesterday" }] }, "pricing.0.effectiveFrom", "ISO date"],
    [{ pricing: [{ ...price, effectiveFrom: "2025-02-30" }] }, "pricing.0.effectiveFrom", "calendar date"],
    [{ pricing: [{ ...price, inputPerMTok: -1 }] }, "pricing.0.inputPerMTok", ">= 0"],
    [{ pricing: [price, price] }, "pricing.1.effectiveFrom", "a second price"],
    [{ budgets: [{ id: "b", scope: "planet", window: "1h", limitUsd: 1 }] }, "budgets.0.scope", ""],
    [{ budgets: [{ id: "b", scope: "agent", window: "2h", limitUsd: 1 }] }, "budgets.0.window", ""],
    [{ budgets: [{ id: "b", scope: "agent", window: "1h", limitUsd: 0 }] }, "budgets.0.limitUsd", "> 0"],
    [{ budgets: [{ id: "b", scope: "agent", window: "1h", limitUsd: 1, warnAtRatio: 1.5 }] }, "budgets.0.warnAtRatio", "(0, 1]"],
    [{ detector: { maxRepeatedCalls: 0 } }, "detector.maxRepeatedCalls", "between"]
  ])("refuses %j naming the field", async (doc, path, words) => {
    const r = await put(doc)
    expect(r.status).toBe(400)
    expect(r.body.message).toContain(path)
    expect(r.body.message).toContain(words)
  })
})

describe("GenAI on the native API and /v1/metrics", () => {
  it("refuses a token count that is no count, or an unknown operation, in an execution's tags, naming the field", async () => {
    const t = await app.tenant()
    const start = (tags: Record<string, string>) =>
      call(app, t.key, "POST", "/api/executions", { operationName: "plan", serviceName: "agent", context: { contextId: "c", userId: "u" }, tags })
    for (const [tags, words] of [
      [{ "gen_ai.usage.input_tokens": "-3" }, "tags.gen_ai.usage.input_tokens"],
      [{ "gen_ai.usage.output_tokens": "many" }, "tags.gen_ai.usage.output_tokens"],
      [{ "llm.token_count.prompt": "5000000000" }, "tags.llm.token_count.prompt"],
      [{ "gen_ai.operation.name": "dance" }, "tags.gen_ai.operation.name"]
    ] as const) {
      const res = await start(tags)
      expect(res.status).toBe(400)
      expect(((await res.json()) as { message: string }).message).toContain(words)
    }
    expect((await start({ "gen_ai.agent.name": "planner", "gen_ai.usage.input_tokens": "12" })).status).toBe(201)
    const bad = await call(app, t.key, "POST", "/api/metrics", { points: [{ name: "cpu", value: -1 }, { name: "gen_ai.client.token.usage.sum", value: -1 }] })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { message: string }).message).toContain("points.1.value")
  })

  it("recognises gen_ai.client.token.usage and gen_ai.client.operation.duration, per model and token type", async () => {
    const t = await app.tenant()
    const nanos = (ms: number) => `${BigInt(ms) * 1_000_000n}`
    const now = Date.now() - 2000
    const attrs = (extra: Record<string, string>) =>
      Object.entries({ "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o", "gen_ai.response.model": "gpt-4o-2024-08-06", ...extra })
        .map(([key, v]) => ({ key, value: { stringValue: v } }))
    const histogram = (name: string, unit: string, points: Array<{ a: Record<string, string>; sum: number; count: number }>) => ({
      name, unit,
      histogram: { aggregationTemporality: 1, dataPoints: points.map((p) => ({ attributes: attrs(p.a), startTimeUnixNano: nanos(now - 1000), timeUnixNano: nanos(now), count: String(p.count), sum: p.sum, bucketCounts: [String(p.count)], explicitBounds: [] })) }
    })
    const body = {
      resourceMetrics: [{
        resource: { attributes: [{ key: "service.name", value: { stringValue: "agents" } }] },
        scopeMetrics: [{
          scope: { name: "@opentelemetry/instrumentation-openai" },
          metrics: [
            histogram("gen_ai.client.token.usage", "{token}", [{ a: { "gen_ai.token.type": "input" }, sum: 1200, count: 2 }, { a: { "gen_ai.token.type": "output" }, sum: 300, count: 2 }]),
            histogram("gen_ai.client.operation.duration", "s", [{ a: {}, sum: 1.5, count: 2 }])
          ]
        }]
      }]
    }
    const res = await call(app, t.key, "POST", "/v1/metrics", body)
    expect(res.status).toBe(200)
    const rows = await eventually(async () => {
      const r = await app.sql<{ name: string; value: number; attributes: Record<string, unknown> }>(
        "SELECT name, value, attributes FROM metric_points WHERE tenant_id = $1 AND name LIKE '%.sum' ORDER BY name, value", [t.id]
      )
      return r.length === 3 ? r : undefined
    })
    expect(rows.map((r) => [r.name, r.value, r.attributes["genai.model"], r.attributes["genai.tokenType"] ?? null, r.attributes["genai.operation"], r.attributes["genai.provider"]])).toEqual([
      ["gen_ai.client.operation.duration.sum", 1.5, "gpt-4o-2024-08-06", null, "chat", "openai"],
      ["gen_ai.client.token.usage.sum", 300, "gpt-4o-2024-08-06", "output", "chat", "openai"],
      ["gen_ai.client.token.usage.sum", 1200, "gpt-4o-2024-08-06", "input", "chat", "openai"]
    ])
  })
})
