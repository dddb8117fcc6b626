import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"
import { startSink } from "../support/sink.ts"
import type { Sink } from "../support/sink.ts"
import { otlpTraces, spanId, traceId } from "../support/otlpJson.ts"
import type { SpanSpec } from "../support/otlpJson.ts"

// Detection on agents: a model's latency spike through the usual windows and detector, budgets through
// the alert policy (warning → critical → resolved), a runaway tool loop raising one alert per execution.

const SECRET = "genai-alerts-secret-24-bytes+"
let app: TestApp
let sink: Sink
beforeAll(async () => {
  sink = await startSink(SECRET)
  app = await startApp()
})
afterAll(async () => {
  await app.close()
  await sink.close()
})

const channels = () => [{ id: "hook", type: "webhook", url: sink.url, secret: SECRET }]
const received = (tenantId: string, type: string) => sink.received.filter((r) => r.body.data.tenantId === tenantId && r.body.type === type)
const chat = (model: string, startMs: number, durationMs: number, input = 100, output = 10): SpanSpec => ({
  spanId: spanId(), name: `chat ${model}`, service: "agents", startMs, endMs: startMs + durationMs,
  attributes: { "gen_ai.operation.name": "chat", "gen_ai.request.model": model, "gen_ai.usage.input_tokens": input, "gen_ai.usage.output_tokens": output }
})

describe("GenAI detection and alerts", () => {
  it("a latency spike of one model raises anomaly_detected on that model's series", async () => {
    const t = await app.tenant(["ingest", "query"], {
      windows: { sizeSeconds: 1, allowedLatenessSeconds: 1, idleTimeoutSeconds: 1 },
      detector: { warmupWindows: 5 },
      channels: channels()
    })
    const base = Math.floor(Date.now() / 1000) * 1000 - 120_000
    const evaluated = (n: number) =>
      eventually(async () => {
        const r = await app.sql<{ n: number }>(
          "SELECT count(*)::int AS n FROM metric_windows WHERE tenant_id = $1 AND metric_name = 'genai.model.latencyMs' AND operation = 'model=gpt-4o' AND evaluated_at IS NOT NULL", [t.id]
        )
        return (r[0]?.n ?? 0) >= n ? true : undefined
      })
    const send = async (i: number, latency: number) => {
      const spans = Array.from({ length: 6 }, (_, j) => chat("gpt-4o", base + i * 1000 + j * 100, latency + (j % 2 === 0 ? 5 : -5)))
      expect((await call(app, t.key, "POST", "/v1/traces", otlpTraces(traceId(), spans))).status).toBe(200)
      await evaluated(i + 1)
    }
    for (let i = 0; i < 8; i++) await send(i, 400)
    await send(8, 4000)
    const alert = await eventually(async () => received(t.id, "anomaly_detected").find((a) => a.body.data.metric === "genai.model.latencyMs"))
    expect(alert.body.data).toMatchObject({ metric: "genai.model.latencyMs", operation: "model=gpt-4o", rule: "anomaly" })
    expect(alert.body.data.observed).toBeCloseTo(4000, 0)
    expect(alert.body.data.expected).toBeCloseTo(400, -1)
    const anomalies = await app.sql<{ operation: string }>("SELECT operation FROM anomalies WHERE tenant_id = $1 AND metric_name = 'genai.model.latencyMs'", [t.id])
    expect(anomalies.map((a) => a.operation)).toEqual(["model=gpt-4o"])
  }, 90_000)

  it("a budget warns at its ratio, turns critical at its limit, and resolves once back under", async () => {
    const budget = { id: "gpt-daily", scope: "model", match: "gpt-4o*", window: "24h", limitUsd: 0.01, warnAtRatio: 0.5 }
    const doc = { pricing: [{ model: "gpt-4o", inputPerMTok: 10, outputPerMTok: 0, effectiveFrom: "2024-01-01" }], budgets: [budget], channels: channels() }
    const t = await app.tenant(undefined, doc)
    const spend = async (input: number) =>
      expect((await call(app, t.key, "POST", "/v1/traces", otlpTraces(traceId(), [chat("gpt-4o", Date.now() - 3000, 200, input, 0)]))).status).toBe(200)
    await spend(600) // $0.006: over 50 % of $0.01
    const warning = await eventually(async () => received(t.id, "budget_exceeded")[0], 20_000)
    expect(warning.body.data).toMatchObject({ severity: "warning", rule: "budget", operation: "budget=gpt-daily model=gpt-4o", action: "open" })
    expect(warning.body.data.observed).toBeCloseTo(0.006, 9)
    await spend(500) // $0.011 in all: over the limit
    const critical = await eventually(async () => received(t.id, "budget_exceeded").find((r) => r.body.data.severity === "critical"), 20_000)
    expect(critical.body.data).toMatchObject({ action: "escalate", previousSeverity: "warning", alertId: warning.body.data.alertId })
    expect(critical.body.data.observed).toBeCloseTo(0.011, 9)
    // The alert's title in dollars as the console writes them, not "$0.0110 … ($0.0100)".
    expect(await app.sql<{ title: string }>("SELECT title FROM alerts WHERE tenant_id = $1", [t.id])).toEqual([{ title: "budget=gpt-daily model=gpt-4o: $0.011 spent, over the limit ($0.01)" }])
    // The limit raised: the next evaluation finds the spending back under it.
    expect((await app.admin("PUT", `/api/admin/tenants/${t.id}/settings`, { ...doc, budgets: [{ ...budget, limitUsd: 1 }] })).status).toBe(200)
    await new Promise((r) => setTimeout(r, 5500)) // the settings cache (5 s)
    await spend(1)
    const resolved = await eventually(async () => received(t.id, "alert_resolved").find((r) => r.body.data.alertId === warning.body.data.alertId), 20_000)
    expect(resolved.body.data.rule).toBe("budget")
    const rows = await app.sql<{ state: string; type: string; severity: string }>("SELECT state, type, severity FROM alerts WHERE tenant_id = $1", [t.id])
    expect(rows).toEqual([{ state: "resolved", type: "budget_exceeded", severity: "critical" }])
  }, 90_000)

  it("the same tool called more than detector.maxRepeatedCalls times in one execution raises one agent_loop_suspected", async () => {
    const t = await app.tenant(undefined, { detector: { maxRepeatedCalls: 25 }, channels: channels() })
    const trace = traceId()
    const agent = spanId()
    const now = Date.now() - 60_000
    const tool = (i: number): SpanSpec => ({
      spanId: spanId(), parentSpanId: agent, name: "execute_tool fetch", service: "agents", startMs: now + i * 100, endMs: now + i * 100 + 50,
      attributes: { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "fetch" }
    })
    const head: SpanSpec = { spanId: agent, name: "invoke_agent crawler", service: "agents", startMs: now, endMs: now + 10_000, attributes: { "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "crawler" } }
    // 25 calls: at the limit, not over it.
    await call(app, t.key, "POST", "/v1/traces", otlpTraces(trace, [head, ...Array.from({ length: 25 }, (_, i) => tool(i))]))
    await eventually(async () => ((await app.sql<{ n: number }>("SELECT count(*)::int AS n FROM spans WHERE tenant_id = $1", [t.id]))[0]?.n === 26 ? true : undefined))
    // Another execution calling it 10 times is no loop either.
    await call(app, t.key, "POST", "/v1/traces", otlpTraces(traceId(), Array.from({ length: 10 }, (_, i) => ({ ...tool(i), parentSpanId: null }))))
    await new Promise((r) => setTimeout(r, 1500))
    expect(received(t.id, "agent_loop_suspected")).toEqual([])
    // Two more batches of the first trace: over the limit, still one alert.
    await call(app, t.key, "POST", "/v1/traces", otlpTraces(trace, [tool(25), tool(26)]))
    await call(app, t.key, "POST", "/v1/traces", otlpTraces(trace, [tool(27), tool(28)]))
    const loop = await eventually(async () => received(t.id, "agent_loop_suspected")[0], 20_000)
    expect(loop.body.data).toMatchObject({ executionId: trace, repeated: "tool:fetch", maxRepeatedCalls: 25 })
    expect(Number(loop.body.data.calls)).toBeGreaterThan(25)
    await new Promise((r) => setTimeout(r, 2000))
    expect(received(t.id, "agent_loop_suspected")).toHaveLength(1)
    const alerts = await app.sql<{ type: string; trace_id: string; state: string }>("SELECT type, trace_id, state FROM alerts WHERE tenant_id = $1 AND type = 'agent_loop_suspected'", [t.id])
    expect(alerts).toEqual([{ type: "agent_loop_suspected", trace_id: trace, state: "open" }])
  }, 60_000)

  it("a budget counts spending stored late into a minute the aggregate had already materialised", async () => {
    const budget = { id: "day", scope: "tenant", window: "24h", limitUsd: 0.01, warnAtRatio: 0.5 }
    const t = await app.tenant(undefined, { pricing: [{ model: "gpt-4o", inputPerMTok: 10, outputPerMTok: 0, effectiveFrom: "2024-01-01" }], budgets: [budget], channels: channels() })
    const at = Date.now() - 10 * 60_000
    const spend = async (n: number) => {
      expect((await call(app, t.key, "POST", "/v1/traces", otlpTraces(traceId(), [chat("gpt-4o", at, 200, 300, 0)]))).status).toBe(200) // $0.003
      await eventually(async () => ((await app.sql<{ n: number }>("SELECT count(*)::int AS n FROM spans WHERE tenant_id = $1", [t.id]))[0]?.n === n ? true : undefined))
    }
    await spend(1)
    // That minute materialised (as the periodic refresh would): a span stored into it now is late.
    await app.sql("CALL refresh_continuous_aggregate('spans_1m', NULL, now() - INTERVAL '1 minute')")
    await new Promise((r) => setTimeout(r, 500))
    expect(received(t.id, "budget_exceeded")).toEqual([])
    await spend(2)
    // Well before the next periodic refresh (every 30 s): $0.006, over 50 % of $0.01.
    const warning = await eventually(async () => received(t.id, "budget_exceeded")[0], 8000)
    expect(warning.body.data).toMatchObject({ severity: "warning", rule: "budget", operation: "budget=day" })
    expect(warning.body.data.observed).toBeCloseTo(0.006, 9)
  }, 60_000)

  it("a per-user budget over 1h counts the window's whole hours and its first, partial one, and nothing before", async () => {
    const budget = { id: "per-user", scope: "user", window: "1h", limitUsd: 0.005, warnAtRatio: 0.5 }
    const t = await app.tenant(undefined, { pricing: [{ model: "gpt-4o", inputPerMTok: 10, outputPerMTok: 0, effectiveFrom: "2024-01-01" }], budgets: [budget], channels: channels() })
    const now = Date.now()
    const of = (user: string, agoMs: number, input: number): SpanSpec => {
      const s = chat("gpt-4o", now - agoMs, 200, input, 0)
      return { ...s, attributes: { ...s.attributes, "user.id": user } }
    }
    // u-1: $0.003 70 minutes ago (outside the window), $0.003 50 and $0.003 2 minutes ago; u-2: $0.001.
    expect((await call(app, t.key, "POST", "/v1/traces", otlpTraces(traceId(), [of("u-1", 70 * 60_000, 300), of("u-1", 50 * 60_000, 300), of("u-2", 40 * 60_000, 100)]))).status).toBe(200)
    await eventually(async () => ((await app.sql<{ n: number }>("SELECT count(*)::int AS n FROM spans WHERE tenant_id = $1", [t.id]))[0]?.n === 3 ? true : undefined))
    const warning = await eventually(async () => received(t.id, "budget_exceeded")[0], 20_000)
    expect(warning.body.data).toMatchObject({ severity: "warning", rule: "budget", operation: "budget=per-user user=u-1" })
    expect(warning.body.data.observed).toBeCloseTo(0.003, 9)
    await app.sql("CALL refresh_continuous_aggregate('genai_usage_1h', NULL, now() - INTERVAL '1 hour')")
    expect((await call(app, t.key, "POST", "/v1/traces", otlpTraces(traceId(), [of("u-1", 2 * 60_000, 300)]))).status).toBe(200)
    const critical = await eventually(async () => received(t.id, "budget_exceeded").find((r) => r.body.data.severity === "critical"), 20_000)
    expect(critical.body.data).toMatchObject({ operation: "budget=per-user user=u-1" })
    expect(critical.body.data.observed).toBeCloseTo(0.006, 9)
    expect(received(t.id, "budget_exceeded").some((r) => String(r.body.data.operation).includes("u-2"))).toBe(false)
  }, 60_000)

  it("counts a trace again when a batch of it was stored at the same moment as another, and no later batch comes", async () => {
    const t = await app.tenant(undefined, { detector: { maxRepeatedCalls: 25 }, channels: channels() })
    const trace = traceId()
    const agent = spanId()
    const now = Date.now() - 60_000
    // The other worker's batch: 15 calls stored while this one was being derived (it counted neither's calls),
    // written here as the other worker's insert would (no flag, no probe: this batch cannot see it).
    await app.sql(
      `INSERT INTO spans (tenant_id, trace_id, span_id, parent_span_id, name, kind, status_code, service_name, start_time, end_time, duration_ms,
                          resource_attributes, attributes, events, links, genai_kind, genai_operation, genai_tool, genai_agent)
       SELECT $1, $2, substr(md5(random()::text), 1, 16), $3, 'execute_tool fetch', 1, 0, 'agents', to_timestamp(($4::float8 + i * 100) / 1000.0),
              to_timestamp(($4::float8 + i * 100 + 50) / 1000.0), 50, '{}', '{}', '[]', '[]', 'tool', 'execute_tool', 'fetch', 'crawler'
       FROM generate_series(1, 15) AS i`, [t.id, trace, agent, now]
    )
    // This batch: the agent and 15 calls of its own, 15 of 25: no loop by its own count, but more than half of the limit.
    const head: SpanSpec = { spanId: agent, name: "invoke_agent crawler", service: "agents", startMs: now, endMs: now + 10_000, attributes: { "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "crawler" } }
    const calls = Array.from({ length: 15 }, (_, i): SpanSpec => ({
      spanId: spanId(), parentSpanId: agent, name: "execute_tool fetch", service: "agents", startMs: now + 2000 + i * 100, endMs: now + 2050 + i * 100,
      attributes: { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "fetch" }
    }))
    expect((await call(app, t.key, "POST", "/v1/traces", otlpTraces(trace, [head, ...calls]))).status).toBe(200)
    const loop = await eventually(async () => received(t.id, "agent_loop_suspected")[0], 20_000)
    expect(loop.body.data).toMatchObject({ executionId: trace, repeated: "tool:fetch", calls: 30, maxRepeatedCalls: 25 })
  }, 60_000)

  it("counts an execution's calls over all its batches, also when the last one is a whole subtree, and a resent batch once", async () => {
    const t = await app.tenant(undefined, { detector: { maxRepeatedCalls: 25 }, channels: channels() })
    const now = Date.now() - 60_000
    const tool = (parent: string, i: number): SpanSpec => ({
      spanId: spanId(), parentSpanId: parent, name: "execute_tool fetch", service: "agents", startMs: now + i * 10, endMs: now + i * 10 + 5,
      attributes: { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "fetch" }
    })
    // Exporters send a span when it ends: the calls first, the agent and the root (a whole subtree) last.
    const execution = async (earlier: number, later: number, plainStep: boolean) => {
      const trace = traceId()
      const [root, agent, step] = [spanId(), spanId(), spanId()]
      const first: Array<SpanSpec> = plainStep
        ? [{ spanId: step, parentSpanId: agent, name: "step", service: "agents", startMs: now, endMs: now + 500, attributes: {} }, ...Array.from({ length: earlier }, (_, i) => tool(step, i))]
        : Array.from({ length: earlier }, (_, i) => tool(agent, i))
      const last: Array<SpanSpec> = [
        { spanId: root, name: "run", service: "agents", startMs: now, endMs: now + 2000, attributes: {} },
        { spanId: agent, parentSpanId: root, name: "invoke_agent crawler", service: "agents", startMs: now, endMs: now + 1500, attributes: { "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "crawler" } },
        ...Array.from({ length: later }, (_, i) => tool(agent, earlier + i))
      ]
      expect((await call(app, t.key, "POST", "/v1/traces", otlpTraces(trace, first))).status).toBe(200)
      const stored = first.length
      await eventually(async () => ((await app.sql<{ n: number }>("SELECT count(*)::int AS n FROM spans WHERE tenant_id = $1 AND trace_id = $2", [t.id, trace]))[0]?.n === stored ? true : undefined))
      expect((await call(app, t.key, "POST", "/v1/traces", otlpTraces(trace, last))).status).toBe(200)
      return { trace, first }
    }
    const direct = (await execution(20, 10, false)).trace
    const throughStep = (await execution(20, 10, true)).trace
    const limit = await execution(20, 5, false)
    const atLimit = limit.trace
    const loops = await eventually(async () => {
      const r = received(t.id, "agent_loop_suspected")
      return r.length >= 2 ? r : undefined
    }, 20_000)
    expect(Object.fromEntries(loops.map((l) => [String(l.body.data.executionId), Number(l.body.data.calls)]))).toEqual({ [direct]: 30, [throughStep]: 30 })
    // The first batch of the execution at the limit sent again (an exporter's retry): its calls are counted once.
    expect((await call(app, t.key, "POST", "/v1/traces", otlpTraces(atLimit, limit.first))).status).toBe(200)
    await new Promise((r) => setTimeout(r, 2000))
    expect(received(t.id, "agent_loop_suspected").map((l) => l.body.data.executionId).sort()).toEqual([direct, throughStep].sort())
    expect(received(t.id, "agent_loop_suspected").some((l) => l.body.data.executionId === atLimit)).toBe(false)
  }, 60_000)
})
