import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"
import { startSink } from "../support/sink.ts"
import type { Sink } from "../support/sink.ts"
import { otlpTraces, spanId, traceId } from "../support/otlpJson.ts"
import type { SpanSpec } from "../support/otlpJson.ts"

// Usage per model / agent / tool / user from the continuous aggregates, the agent graph, and the GenAI
// totals of an execution (detail, search, execution_completed), for a native execution whose agents
// send OTLP spans under its traceparent.

const SECRET = "genai-usage-secret-24-bytes+"
let app: TestApp
let sink: Sink
beforeAll(async () => {
  sink = await startSink(SECRET)
  app = await startApp({}, { MPLP_AGGREGATE_REFRESH_SECONDS: "1" })
})
afterAll(async () => {
  await app.close()
  await sink.close()
})

const PRICING = [
  { model: "gpt-4o", inputPerMTok: 2.5, outputPerMTok: 10, effectiveFrom: "2024-01-01" },
  { model: "claude-*", inputPerMTok: 3, outputPerMTok: 15, effectiveFrom: "2024-01-01" }
]
const traces = new Map<number, string>()
const traceIdOf = (i: number) => traces.get(i) ?? (traces.set(i, traceId()), traces.get(i)!)
const cost = (model: "gpt-4o" | "claude", i: number, o: number) => (model === "gpt-4o" ? i * 2.5 + o * 10 : i * 3 + o * 15) / 1e6

interface Group { key: string; calls: number; errors: number; inputTokens: number; outputTokens: number; costUsd: number; unpricedTokens: number; p50Ms: number | null; p95Ms: number | null; series?: Array<{ time: string; calls: number; inputTokens: number }> }
interface Usage { groupBy: string; source: string; bucketSeconds: number | null; groups: Array<Group> }

describe("GenAI usage, graph and execution totals", () => {
  it("adds up tokens and cost per model, agent, tool and user, per execution, and draws the agent graph", async () => {
    const t = await app.tenant(undefined, {
      pricing: PRICING,
      channels: [{ id: "hook", type: "webhook", url: sink.url, secret: SECRET, events: ["execution_completed"] }]
    })
    const started = await call(app, t.key, "POST", "/api/executions", {
      operationName: "trip", serviceName: "planner", context: { contextId: "c-1", userId: "alice" }, tags: { "gen_ai.agent.name": "planner" }
    })
    expect(started.status).toBe(201)
    const exec = (await started.json()) as { executionId: string; traceId: string; spanId: string; startTime: string }
    const now = Date.parse(exec.startTime) + 10
    const researcher = spanId()
    const spans: Array<SpanSpec> = [
      // The planner (the native execution) calls a model and invokes a researcher agent, which calls a tool and a model.
      { spanId: spanId(), parentSpanId: exec.spanId, name: "chat gpt-4o", service: "planner", startMs: now, endMs: now + 800, attributes: { "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 100 } },
      { spanId: spanId(), parentSpanId: exec.spanId, name: "chat gpt-4o", service: "planner", startMs: now + 900, endMs: now + 1300, attributes: { "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 500, "gen_ai.usage.output_tokens": 50 } },
      { spanId: researcher, parentSpanId: exec.spanId, name: "invoke_agent researcher", service: "research", startMs: now + 1400, endMs: now + 4000, attributes: { "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "researcher" } },
      { spanId: spanId(), parentSpanId: researcher, name: "execute_tool search", service: "research", startMs: now + 1500, endMs: now + 2000, attributes: { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search" } },
      { spanId: spanId(), parentSpanId: researcher, name: "execute_tool search", service: "research", startMs: now + 2000, endMs: now + 2600, error: true, attributes: { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search", "error.type": "http_500" } },
      { spanId: spanId(), parentSpanId: researcher, name: "chat claude", service: "research", startMs: now + 2700, endMs: now + 3900, attributes: { "gen_ai.operation.name": "chat", "gen_ai.request.model": "claude-3-5-haiku", "gen_ai.usage.input_tokens": 3000, "gen_ai.usage.output_tokens": 300 } },
      { spanId: spanId(), parentSpanId: researcher, name: "chat local", service: "research", startMs: now + 3900, endMs: now + 3950, attributes: { "gen_ai.operation.name": "chat", "gen_ai.request.model": "llama-local", "gen_ai.usage.input_tokens": 40, "gen_ai.usage.output_tokens": 2 } }
    ]
    expect((await call(app, t.key, "POST", "/v1/traces", otlpTraces(exec.traceId, spans))).status).toBe(200)
    // The execution's span ends after its agents' calls.
    await new Promise((r) => setTimeout(r, Math.max(0, now + 4100 - Date.now())))
    expect((await call(app, t.key, "POST", `/api/executions/${exec.executionId}/finish`, { success: true })).status).toBeLessThan(300)

    const gpt = cost("gpt-4o", 1500, 150)
    const claude = cost("claude", 3000, 300)
    const usage = async (q: string) => {
      const res = await call(app, t.key, "GET", `/api/genai/usage?from=now-15m&${q}`)
      expect(res.status).toBe(200)
      return (await res.json()) as Usage
    }
    // Real-time aggregation: the newest minutes are there before they are materialised.
    await eventually(async () => ((await usage("groupBy=model")).groups.reduce((n, g) => n + g.inputTokens, 0) >= 4540 ? true : undefined), 30_000, 300)
    const byModel = await usage("groupBy=model")
    expect(byModel.source).toBe("genai_usage_1m")
    const m = new Map(byModel.groups.map((g) => [g.key, g]))
    expect(m.get("gpt-4o")).toMatchObject({ calls: 2, errors: 0, inputTokens: 1500, outputTokens: 150, unpricedTokens: 0 })
    expect(m.get("gpt-4o")?.costUsd).toBeCloseTo(gpt, 12)
    expect(m.get("claude-3-5-haiku")?.costUsd).toBeCloseTo(claude, 12)
    expect(m.get("llama-local")).toMatchObject({ calls: 1, costUsd: 0, unpricedTokens: 42 })
    expect(m.get("gpt-4o")?.p95Ms).toBeGreaterThanOrEqual(400)
    expect(m.get("gpt-4o")?.p95Ms).toBeLessThanOrEqual(800)
    // Most expensive first.
    expect(byModel.groups[0]?.key).toBe("claude-3-5-haiku")

    const byAgent = new Map((await usage("groupBy=agent")).groups.map((g) => [g.key, g]))
    // The planner's name comes from the native execution's tags, inherited by its model calls.
    expect(byAgent.get("planner")).toMatchObject({ inputTokens: 1500, outputTokens: 150 })
    expect(byAgent.get("researcher")).toMatchObject({ calls: 1, inputTokens: 3040, outputTokens: 302, unpricedTokens: 42 })
    expect(byAgent.get("researcher")?.costUsd).toBeCloseTo(claude, 12)
    const byTool = new Map((await usage("groupBy=tool")).groups.map((g) => [g.key, g]))
    expect(byTool.get("search")).toMatchObject({ calls: 2, errors: 1 })
    // The user of the native execution (context.userId) is inherited too.
    const byUser = new Map((await usage("groupBy=user")).groups.map((g) => [g.key, g]))
    expect(byUser.get("alice")).toMatchObject({ calls: 4, inputTokens: 4540 })
    expect(byUser.get("alice")?.costUsd).toBeCloseTo(gpt + claude, 12)
    const series = await usage("groupBy=model&bucket=1m")
    expect(series.bucketSeconds).toBe(60)
    const gs = series.groups.find((g) => g.key === "gpt-4o")?.series ?? []
    expect(gs.reduce((n, p) => n + p.inputTokens, 0)).toBe(1500)

    const graph = (await (await call(app, t.key, "GET", "/api/genai/graph?from=now-15m")).json()) as {
      nodes: Array<{ id: string; calls: number; costUsd: number; unpricedTokens: number }>; edges: Array<{ source: string; target: string; calls: number; errors: number; p95Ms: number | null; costUsd: number; unpricedTokens: number }>
    }
    const edges = new Map(graph.edges.map((e) => [`${e.source}->${e.target}`, e]))
    expect([...edges.keys()].sort()).toEqual([
      "agent:planner->agent:researcher", "agent:planner->model:gpt-4o", "agent:researcher->model:claude-3-5-haiku",
      "agent:researcher->model:llama-local", "agent:researcher->tool:search"
    ])
    expect(edges.get("agent:researcher->tool:search")).toMatchObject({ calls: 2, errors: 1 })
    expect(edges.get("agent:planner->model:gpt-4o")?.costUsd).toBeCloseTo(gpt, 12)
    expect(edges.get("agent:planner->model:gpt-4o")?.unpricedTokens).toBe(0)
    // A model without a price: its tokens are unpriced, on the edge and on the node, not a cost of 0.
    expect(edges.get("agent:researcher->model:llama-local")).toMatchObject({ costUsd: 0, unpricedTokens: 42 })
    expect(graph.nodes.find((n) => n.id === "model:llama-local")).toMatchObject({ costUsd: 0, unpricedTokens: 42 })
    expect(graph.nodes.map((n) => n.id)).toContain("agent:planner")
    // p95 from the minutes' duration buckets (spans_1m): within what the two searches took, 500 and 600 ms.
    expect(edges.get("agent:researcher->tool:search")?.p95Ms).toBeGreaterThanOrEqual(500)
    expect(edges.get("agent:researcher->tool:search")?.p95Ms).toBeLessThanOrEqual(600)
    // A range longer than a week is cut to its last 7 days, in whole minutes; the same edges.
    const month = (await (await call(app, t.key, "GET", "/api/genai/graph?from=now-30d")).json()) as { from: string; to: string; edges: Array<{ source: string; target: string }> }
    expect(Date.parse(month.to) - Date.parse(month.from)).toBe(7 * 86_400_000)
    expect(Date.parse(month.to) % 60_000).toBe(0)
    expect(month.edges.map((e) => `${e.source}->${e.target}`).sort()).toEqual([...edges.keys()].sort())

    const totals = { inputTokens: 4540, outputTokens: 452, unpricedTokens: 42, llmCalls: 4, toolCalls: 2, agents: ["planner", "researcher"], models: ["claude-3-5-haiku", "gpt-4o", "llama-local"] }
    const detail = await eventually(async () => {
      const d = (await (await call(app, t.key, "GET", `/api/executions/${exec.executionId}`)).json()) as {
        status: string; genai: Record<string, unknown> | null; spans: Array<{ name: string; genai: Record<string, unknown> | null }>
        analysis: { genai: null | { mostExpensiveModel: { model: string; costUsd: number } | null; sequentialModelCalls: Array<{ parentSpanId: string; spanIds: Array<string>; savableMs: number }>; modelCallsShareOfCriticalPath: number; toolCallsShareOfCriticalPath: number } } | null
      }
      return d.status === "completed" && d.genai !== null ? d : undefined
    })
    expect(detail.genai).toMatchObject(totals)
    expect(detail.genai?.costUsd).toBeCloseTo(gpt + claude, 12)
    // The analysis' GenAI facts: the planner's two model calls ran one after the other; claude cost most.
    const g = detail.analysis?.genai
    expect(g?.mostExpensiveModel).toMatchObject({ model: "claude-3-5-haiku", calls: 1 })
    expect(g?.mostExpensiveModel?.costUsd).toBeCloseTo(claude, 12)
    const planner = g?.sequentialModelCalls.find((c) => c.parentSpanId === exec.spanId)
    expect(planner?.spanIds).toHaveLength(2)
    expect(planner?.savableMs).toBeCloseTo(400, 0)
    expect(g?.modelCallsShareOfCriticalPath).toBeGreaterThan(0.3)
    expect(g?.toolCallsShareOfCriticalPath).toBeGreaterThan(0)
    // The native execution named its agent in its tags: its own span is the planner's agent span.
    expect(detail.spans.find((s) => s.name === "trip")?.genai).toMatchObject({ agentName: "planner", operation: null })
    expect(detail.spans.find((s) => s.name === "chat claude")?.genai).toMatchObject({ agentName: "researcher", inputTokens: 3000, requestModel: "claude-3-5-haiku" })
    const search = (await (await call(app, t.key, "GET", "/api/executions?from=now-1h")).json()) as { executions: Array<{ executionId: string; genai: unknown }> }
    expect(search.executions.find((e) => e.executionId === exec.executionId)?.genai).toMatchObject(totals)
    const notice = await eventually(async () => sink.received.find((r) => r.body.type === "execution_completed" && r.body.data.executionId === exec.executionId), 20_000)
    expect(notice.body.data.genai).toMatchObject(totals)
  })

  it("answers groupBy=user and conversation (hours of genai_usage_1h, the partial ones from spans) with the spans' own sums", async () => {
    const t = await app.tenant(undefined, { pricing: PRICING })
    const HOUR = 3_600_000
    const now = Date.now()
    // Spans over the last five hours, across hour boundaries: some hours materialised, the newest real-time.
    const spans: Array<SpanSpec> = Array.from({ length: 40 }, (_, i) => {
      const startMs = now - 5 * HOUR + i * (HOUR / 8) + 1234
      const model = i % 3 === 0 ? "claude-3-5-haiku" : i % 5 === 0 ? "llama-local" : "gpt-4o"
      return {
        spanId: spanId(), name: `chat ${model}`, service: "agents", startMs, endMs: startMs + 30 + 97 * (i % 11), error: i % 7 === 0,
        attributes: {
          "gen_ai.operation.name": i % 4 === 3 ? "execute_tool" : "chat", "gen_ai.request.model": model, "gen_ai.tool.name": "search",
          "gen_ai.usage.input_tokens": 100 + i, "gen_ai.usage.output_tokens": 10 + (i % 9),
          "user.id": `user-${i % 3}`, "gen_ai.conversation.id": `conv-${i % 4}`
        }
      }
    })
    for (let i = 0; i < spans.length; i += 10) {
      expect((await call(app, t.key, "POST", "/v1/traces", otlpTraces(traceIdOf(i), spans.slice(i, i + 10)))).status).toBe(200)
    }
    await eventually(async () => ((await app.sql<{ n: number }>("SELECT count(*)::int AS n FROM spans WHERE tenant_id = $1 AND genai_kind IS NOT NULL", [t.id]))[0]?.n === 40 ? true : undefined))
    // The whole hours materialised, the current one real-time. Every whole hour, not only the older ones: the
    // service's own refresh (MPLP_AGGREGATE_REFRESH_SECONDS) may have materialised an hour between two of the
    // batches above, and the later batch's spans in it count only once it is materialised again.
    await app.sql(`CALL refresh_continuous_aggregate('genai_usage_1h', NULL, now() - INTERVAL '1 hour')`)
    const raw = async (column: string, fromMs: number, toMs: number) =>
      new Map((await app.sql<{ key: string; calls: number; errors: number; input: number; output: number; cost: number; unpriced: number }>(
        `SELECT ${column} AS key, (count(*) FILTER (WHERE genai_kind = 'model'))::int AS calls, (count(*) FILTER (WHERE genai_kind = 'model' AND genai_error))::int AS errors,
                sum(genai_input_tokens)::float8 AS input, sum(genai_output_tokens)::float8 AS output, sum(coalesce(genai_cost_usd, 0))::float8 AS cost,
                sum(coalesce(genai_unpriced_tokens, 0))::float8 AS unpriced
         FROM spans WHERE tenant_id = $1 AND genai_kind IS NOT NULL AND start_time >= to_timestamp($2 / 1000.0) AND start_time < to_timestamp($3 / 1000.0) GROUP BY 1`,
        [t.id, fromMs, toMs]
      )).map((r) => [r.key, r]))
    const check = async (groupBy: "user" | "conversation", query: string, expectSource: string) => {
      const res = await call(app, t.key, "GET", `/api/genai/usage?groupBy=${groupBy}&${query}`)
      expect(res.status).toBe(200)
      const u = (await res.json()) as Usage & { from: string; to: string }
      expect(u.source).toBe(expectSource)
      const expected = await raw(groupBy === "user" ? "genai_user" : "genai_conversation", Date.parse(u.from), Date.parse(u.to))
      expect(u.groups.map((g) => g.key).sort()).toEqual([...expected.keys()].sort())
      for (const g of u.groups) {
        const e = expected.get(g.key)!
        expect({ calls: g.calls, errors: g.errors, inputTokens: g.inputTokens, outputTokens: g.outputTokens, unpricedTokens: g.unpricedTokens })
          .toEqual({ calls: e.calls, errors: e.errors, inputTokens: e.input, outputTokens: e.output, unpricedTokens: e.unpriced })
        expect(g.costUsd).toBeCloseTo(e.cost, 12)
        if (g.series !== undefined) expect(g.series.reduce((n, p) => n + p.inputTokens, 0)).toBe(e.input)
      }
      return u
    }
    // Minute-aligned edges: whole hours from the hourly aggregate, the partial ones from spans.
    const from = new Date(now - 4 * HOUR - 17 * 60_000).toISOString()
    const to = new Date(now - 20 * 60_000).toISOString()
    for (const groupBy of ["user", "conversation"] as const) {
      await check(groupBy, `from=${from}&to=${to}`, "genai_usage_1h+spans")
      await check(groupBy, `from=${from}&to=${to}&bucket=1h`, "genai_usage_1h")
      await check(groupBy, `from=${from}&to=${to}&bucket=15m`, "spans")
      await check(groupBy, "from=now-30m", "spans")
      await check(groupBy, "from=now-6h", "genai_usage_1h+spans")
    }
  })

  it("refuses an unknown groupBy or a sub-minute bucket, naming the parameter", async () => {
    const t = await app.tenant()
    const bad = await call(app, t.key, "GET", "/api/genai/usage?groupBy=planet")
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { message: string }).message).toMatch(/^groupBy: /)
    const fine = await call(app, t.key, "GET", "/api/genai/usage?bucket=10s")
    expect(fine.status).toBe(400)
    expect(((await fine.json()) as { message: string }).message).toMatch(/^bucket: .*whole minutes/)
    const empty = (await (await call(app, t.key, "GET", "/api/genai/usage?bucket=auto")).json()) as Usage
    expect(empty.groups).toEqual([])
  })
})
