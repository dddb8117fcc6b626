import { context, ROOT_CONTEXT, trace, TraceFlags } from "@opentelemetry/api"
import type { Context, ContextManager } from "@opentelemetry/api"
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto"
import { OpenAIInstrumentation } from "@opentelemetry/instrumentation-openai"
import { resourceFromAttributes } from "@opentelemetry/resources"
import { MeterProvider, PeriodicExportingMetricReader } from "@opentelemetry/sdk-metrics"
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { AsyncLocalStorage } from "node:async_hooks"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import OpenAI from "openai"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"

// The official openai client against a local OpenAI-compatible server answering known usage,
// instrumented by @opentelemetry/instrumentation-openai and exported by the OpenTelemetry JS SDK to the
// service, under a native execution's traceparent: tokens and cost per model, per execution and in
// /api/genai/usage equal the server's usage times the configured prices. Then the same agent with
// OpenInference-style spans (as OpenInference's instrumentations write them).

/** Usage the test server reports, per requested model; the response names a dated model, as OpenAI does. */
const USAGE: Record<string, { model: string; prompt: number; completion: number }> = {
  "gpt-4o-mini": { model: "gpt-4o-mini-2024-07-18", prompt: 1234, completion: 56 },
  "gpt-4o": { model: "gpt-4o-2024-08-06", prompt: 4321, completion: 210 }
}
const PRICING = [
  { model: "gpt-4o*", inputPerMTok: 2.5, outputPerMTok: 10, effectiveFrom: "2024-05-13" },
  { model: "gpt-4o-mini*", inputPerMTok: 0.15, outputPerMTok: 0.6, effectiveFrom: "2024-07-18" }
]
const costOf = (requested: string, calls: number) => {
  const u = USAGE[requested]!
  const p = requested === "gpt-4o-mini" ? PRICING[1]! : PRICING[0]!
  return (calls * (u.prompt * p.inputPerMTok + u.completion * p.outputPerMTok)) / 1e6
}

/** The context manager an SDK's NodeTracerProvider would register: AsyncLocalStorage. */
class AlsContextManager implements ContextManager {
  private readonly als = new AsyncLocalStorage<Context>()
  active = () => this.als.getStore() ?? ROOT_CONTEXT
  with = <A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A) =>
    this.als.run(ctx, () => fn.call(thisArg, ...args))
  bind = <T>(_ctx: Context, target: T) => target
  enable = () => this
  disable = () => this
}

let app: TestApp
let llm: { url: string; close: () => Promise<void> }
let requests = 0
beforeAll(async () => {
  app = await startApp({}, { MPLP_AGGREGATE_REFRESH_SECONDS: "1" })
  const server = createServer((req, res) => {
    let body = ""
    req.on("data", (c: Buffer) => (body += c.toString()))
    req.on("end", () => {
      requests++
      const { model } = JSON.parse(body) as { model: string }
      const u = USAGE[model]
      if (req.url !== "/v1/chat/completions" || u === undefined) {
        res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: "unknown" } }))
        return
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({
        id: `chatcmpl-${requests}`, object: "chat.completion", created: Math.floor(Date.now() / 1000), model: u.model,
        choices: [{ index: 0, message: { role: "assistant", content: "done" }, finish_reason: "stop" }],
        usage: { prompt_tokens: u.prompt, completion_tokens: u.completion, total_tokens: u.prompt + u.completion }
      }))
    })
  })
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r))
  llm = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, close: () => new Promise((r) => server.close(() => r())) }
  context.setGlobalContextManager(new AlsContextManager())
}, 60_000)
afterAll(async () => {
  context.disable()
  await llm?.close()
  await app?.close()
})

const parentContext = (traceparent: string): Context => {
  const [, traceId = "", spanId = ""] = traceparent.split("-")
  return trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true })
}

const startExecution = async (key: string) => {
  const res = await call(app, key, "POST", "/api/executions", { operationName: "write-report", serviceName: "writer", context: { contextId: "c-1", userId: "bob" } })
  expect(res.status).toBe(201)
  return (await res.json()) as { executionId: string; traceId: string; traceparent: string; startTime: string }
}

const telemetryTo = (key: string, service: string) => {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": service }),
    spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${app.baseUrl}/v1/traces`, headers: { "x-api-key": key } }))]
  })
  const reader = new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter({ url: `${app.baseUrl}/v1/metrics`, headers: { "x-api-key": key } }), exportIntervalMillis: 60_000 })
  const meters = new MeterProvider({ resource: resourceFromAttributes({ "service.name": service }), readers: [reader] })
  return { provider, meters }
}

interface Totals { inputTokens: number; outputTokens: number; costUsd: number; unpricedTokens: number; llmCalls: number; agents: Array<string>; models: Array<string> }
const finishedDetail = (key: string, id: string) =>
  eventually(async () => {
    const d = (await (await call(app, key, "GET", `/api/executions/${id}`)).json()) as { status: string; genai: Totals | null; spans: Array<{ name: string; parentSpanId: string | null }> }
    return d.status === "completed" && d.genai !== null ? d : undefined
  }, 20_000)
const usageByModel = (key: string, calls: number) =>
  eventually(async () => {
    const u = (await (await call(app, key, "GET", "/api/genai/usage?from=now-15m&groupBy=model")).json()) as { groups: Array<{ key: string; calls: number; inputTokens: number; outputTokens: number; costUsd: number }> }
    return u.groups.reduce((n, g) => n + g.calls, 0) >= calls ? new Map(u.groups.map((g) => [g.key, g])) : undefined
  }, 30_000, 300)

describe("real clients", () => {
  it("openai + @opentelemetry/instrumentation-openai + the OTel SDK: tokens and cost per model, execution and usage", async () => {
    const t = await app.tenant(undefined, { pricing: PRICING })
    const exec = await startExecution(t.key)
    const { provider, meters } = telemetryTo(t.key, "writer-agent")
    const instrumentation = new OpenAIInstrumentation()
    instrumentation.setTracerProvider(provider)
    instrumentation.setMeterProvider(meters)
    // Under ESM the instrumentation cannot hook require(): its module definition patches the client class directly.
    for (const def of instrumentation.getModuleDefinitions()) def.patch?.({ OpenAI }, "6.30.1")
    const client = new OpenAI({ apiKey: "sk-test", baseURL: llm.url, maxRetries: 0 })
    const tracer = provider.getTracer("writer")
    await context.with(parentContext(exec.traceparent), () =>
      tracer.startActiveSpan("invoke_agent writer", { attributes: { "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "writer" } }, async (span) => {
        for (const model of ["gpt-4o-mini", "gpt-4o-mini", "gpt-4o"]) {
          const r = await client.chat.completions.create({ model, messages: [{ role: "user", content: "Summarise the quarter" }] })
          expect(r.usage?.prompt_tokens).toBe(USAGE[model]?.prompt)
        }
        span.end()
      })
    )
    await provider.forceFlush()
    await meters.forceFlush()
    for (const def of instrumentation.getModuleDefinitions()) def.unpatch?.({ OpenAI }, "6.30.1")
    expect((await call(app, t.key, "POST", `/api/executions/${exec.executionId}/finish`, { success: true })).status).toBeLessThan(300)

    const mini = USAGE["gpt-4o-mini"]!
    const big = USAGE["gpt-4o"]!
    const expected = costOf("gpt-4o-mini", 2) + costOf("gpt-4o", 1)
    const detail = await finishedDetail(t.key, exec.executionId)
    expect(detail.genai).toMatchObject({
      inputTokens: 2 * mini.prompt + big.prompt, outputTokens: 2 * mini.completion + big.completion, unpricedTokens: 0, llmCalls: 3,
      agents: ["writer"], models: ["gpt-4o-2024-08-06", "gpt-4o-mini-2024-07-18"]
    })
    expect(detail.genai?.costUsd).toBeCloseTo(expected, 12)
    // The instrumentation's spans hang under the agent span, under the execution.
    expect(detail.spans.filter((s) => s.name.startsWith("chat gpt-4o"))).toHaveLength(3)
    const byModel = await usageByModel(t.key, 3)
    expect(byModel.get("gpt-4o-mini-2024-07-18")).toMatchObject({ calls: 2, inputTokens: 2 * mini.prompt, outputTokens: 2 * mini.completion })
    expect(byModel.get("gpt-4o-mini-2024-07-18")?.costUsd).toBeCloseTo(costOf("gpt-4o-mini", 2), 12)
    expect(byModel.get("gpt-4o-2024-08-06")?.costUsd).toBeCloseTo(costOf("gpt-4o", 1), 12)
    // The instrumentation's metrics arrive on /v1/metrics, recognised per model and token type.
    const metric = await eventually(async () => {
      const rows = await app.sql<{ value: number }>(
        `SELECT value FROM metric_points WHERE tenant_id = $1 AND name = 'gen_ai.client.token.usage.sum'
           AND attributes ->> 'genai.model' = 'gpt-4o-mini-2024-07-18' AND attributes ->> 'genai.tokenType' = 'input'`, [t.id])
      return rows[0]
    })
    expect(metric.value).toBe(2 * mini.prompt)
    await meters.shutdown()
    await provider.shutdown()
  }, 60_000)

  it("OpenInference-style spans around the same client: the same tokens and cost", async () => {
    const t = await app.tenant(undefined, { pricing: PRICING })
    const exec = await startExecution(t.key)
    const { provider, meters } = telemetryTo(t.key, "writer-agent")
    const client = new OpenAI({ apiKey: "sk-test", baseURL: llm.url, maxRetries: 0 })
    const tracer = provider.getTracer("openinference")
    await context.with(parentContext(exec.traceparent), () =>
      tracer.startActiveSpan("writer", { attributes: { "openinference.span.kind": "AGENT", "agent.name": "writer", "session.id": "s-42" } }, async (agent) => {
        for (const model of ["gpt-4o", "gpt-4o-mini"]) {
          await tracer.startActiveSpan("ChatCompletion", { attributes: { "openinference.span.kind": "LLM", "llm.model_name": model, "llm.provider": "openai" } }, async (span) => {
            const r = await client.chat.completions.create({ model, messages: [{ role: "user", content: "Draft" }] })
            span.setAttributes({ "llm.model_name": r.model, "llm.token_count.prompt": r.usage?.prompt_tokens ?? 0, "llm.token_count.completion": r.usage?.completion_tokens ?? 0, "output.value": "done" })
            span.end()
          })
        }
        await tracer.startActiveSpan("search", { attributes: { "openinference.span.kind": "TOOL", "tool.name": "web_search" } }, async (span) => span.end())
        agent.end()
      })
    )
    await provider.forceFlush()
    expect((await call(app, t.key, "POST", `/api/executions/${exec.executionId}/finish`, { success: true })).status).toBeLessThan(300)
    const detail = await finishedDetail(t.key, exec.executionId)
    const mini = USAGE["gpt-4o-mini"]!
    const big = USAGE["gpt-4o"]!
    expect(detail.genai).toMatchObject({ inputTokens: mini.prompt + big.prompt, outputTokens: mini.completion + big.completion, llmCalls: 2, toolCalls: 1, agents: ["writer"] })
    expect(detail.genai?.costUsd).toBeCloseTo(costOf("gpt-4o-mini", 1) + costOf("gpt-4o", 1), 12)
    const byModel = await usageByModel(t.key, 2)
    expect(byModel.get("gpt-4o-2024-08-06")?.costUsd).toBeCloseTo(costOf("gpt-4o", 1), 12)
    const conv = (await (await call(app, t.key, "GET", "/api/genai/usage?from=now-15m&groupBy=conversation")).json()) as { groups: Array<{ key: string; inputTokens: number }> }
    expect(conv.groups).toMatchObject([{ key: "s-42", inputTokens: mini.prompt + big.prompt }])
    await meters.shutdown()
    await provider.shutdown()
  }, 60_000)
})
