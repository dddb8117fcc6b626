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
})
