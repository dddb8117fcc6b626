import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api"
import type { Attributes } from "@opentelemetry/api"
import { JsonTraceSerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer"
import { resourceFromAttributes } from "@opentelemetry/resources"
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"

// OTLP trace export requests as the OpenTelemetry JS SDK builds them: a checkout service's HTTP
// server spans, each with three client children (one with an event, some with an error status).

const exporter = new InMemorySpanExporter()
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({
    "service.name": "checkout", "service.version": "1.4.2", "deployment.environment": "prod",
    "host.name": "ip-10-0-3-17", "telemetry.sdk.language": "nodejs", "telemetry.sdk.version": "2.12.0"
  }),
  spanProcessors: [new SimpleSpanProcessor(exporter)]
})
const tracer = provider.getTracer("@mplp/checkout", "1.4.2")

export interface TraceRequest {
  readonly protobuf: Uint8Array
  /** Empty unless asked for: serialising JSON too doubles the cost of building a request. */
  readonly json: Uint8Array
  readonly spans: number
}

/**
 * One export request of `spans` spans (a multiple of 4: one root and three children), starting at `baseMs`.
 * `genai`: the same shape as an agent's spans (the genai scenario): an invoke_agent root, two model calls
 * with tokens (one model priced by the bench tenant, one not), one tool call; as many attributes as the
 * checkout spans and as many span names (so as many RED series), so both request kinds cost the same to
 * decode, store and window apart from the GenAI work. `renamed`: the very same spans with every `gen_ai.*` key
 * renamed `gen_xi.*` (as many bytes, attributes and series of RED): spans the service stores as plain, its
 * twin without the derivation (the genai scenario's baseline).
 */
export const makeTraceRequest = (spans: number, baseMs: number, withJson = true, genai = false, renamed = false): TraceRequest => {
  exporter.reset()
  if (genai) return genaiRequest(spans, baseMs, withJson, renamed)
  for (let i = 0; i < spans; i += 4) {
    const root = tracer.startSpan("GET /api/cart/:id", {
      kind: SpanKind.SERVER, startTime: baseMs + i,
      attributes: {
        "http.request.method": "GET", "http.route": "/api/cart/:id", "url.path": `/api/cart/${i}`,
        "http.response.status_code": 200, "server.address": "checkout.internal", "client.address": "10.0.7.21",
        "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64)", "app.cart.items": i % 7
      }
    })
    const ctx = trace.setSpan(ROOT_CONTEXT, root)
    for (let c = 0; c < 3; c++) {
      // Four operations per trace, as the GenAI shape has (agent, two models, a tool): as many RED series.
      const child = tracer.startSpan(c === 0 ? "SELECT carts" : c === 1 ? "redis GET" : "redis SET", {
        kind: SpanKind.CLIENT, startTime: baseMs + i + 0.1 * (c + 1),
        attributes: { "db.system": c === 0 ? "postgresql" : "redis", "db.statement": "SELECT * FROM carts WHERE id = $1", "server.port": 5432 }
      }, ctx)
      if (c === 2) child.addEvent("cache.miss", { "cache.key": `cart:${i}` }, baseMs + i + 0.35)
      if (i % 40 === 0 && c === 1) child.setStatus({ code: SpanStatusCode.ERROR, message: "timeout" })
      child.end(baseMs + i + 0.1 * (c + 1) + 0.05)
    }
    root.end(baseMs + i + 0.9)
  }
  const finished = exporter.getFinishedSpans()
  return { protobuf: ProtobufTraceSerializer.serializeRequest(finished)!, json: withJson ? JsonTraceSerializer.serializeRequest(finished)! : new Uint8Array(0), spans: finished.length }
}

const RENAMED_PREFIX = "gen_xi."
const renameKeys = (a: Attributes): Attributes =>
  Object.fromEntries(Object.entries(a).map(([k, v]) => [k.startsWith("gen_ai.") ? RENAMED_PREFIX + k.slice(7) : k, v]))

const genaiRequest = (spans: number, baseMs: number, withJson: boolean, renamed: boolean): TraceRequest => {
  const attrs = renamed ? renameKeys : (a: Attributes) => a
  for (let i = 0; i < spans; i += 4) {
    const root = tracer.startSpan("invoke_agent planner", {
      kind: SpanKind.INTERNAL, startTime: baseMs + i,
      attributes: attrs({
        "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner", "gen_ai.agent.id": "planner-1", "gen_ai.conversation.id": `conv-${i % 50}`,
        "gen_ai.provider.name": "openai", "server.address": "agents.internal", "client.address": "10.0.7.21", "user.id": `user-${i % 13}`, "app.cart.items": i % 7
      })
    })
    const ctx = trace.setSpan(ROOT_CONTEXT, root)
    for (let c = 0; c < 3; c++) {
      const model = c === 0 ? "gpt-4o-mini" : "llama-3-70b"
      const child = tracer.startSpan(c === 2 ? "execute_tool web_search" : `chat ${model}`, {
        kind: SpanKind.CLIENT, startTime: baseMs + i + 0.1 * (c + 1),
        attributes: attrs(c === 2
          ? { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "web_search", "server.port": 443 }
          : { "gen_ai.operation.name": "chat", "gen_ai.request.model": model, "gen_ai.usage.input_tokens": 1000 + (i % 97), "gen_ai.usage.output_tokens": 50 + (i % 31) })
      }, ctx)
      if (c === 2) child.addEvent("cache.miss", { "cache.key": `q:${i}` }, baseMs + i + 0.35)
      if (i % 40 === 0 && c === 1) child.setStatus({ code: SpanStatusCode.ERROR, message: "timeout" })
      child.end(baseMs + i + 0.1 * (c + 1) + 0.05)
    }
    root.end(baseMs + i + 0.9)
  }
  const finished = exporter.getFinishedSpans()
  return { protobuf: ProtobufTraceSerializer.serializeRequest(finished)!, json: withJson ? JsonTraceSerializer.serializeRequest(finished)! : new Uint8Array(0), spans: finished.length }
}
