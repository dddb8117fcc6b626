import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api"
import { JsonTraceSerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer"
import { resourceFromAttributes } from "@opentelemetry/resources"
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { decodeTraceRequest } from "../src/ingest/otlp/protobuf.ts"
const SPANS = 1000, REQUESTS = Number(process.argv[2] ?? 20)
const exporter = new InMemorySpanExporter()
const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ "service.name": "checkout" }), spanProcessors: [new SimpleSpanProcessor(exporter)] })
const tracer = provider.getTracer("@mplp/checkout", "1.4.2")
const makeRequest = (r: number) => {
  exporter.reset()
  const base = 1_700_000_000_000 + r * 1000
  for (let i = 0; i < SPANS; i += 4) {
    const root = tracer.startSpan("GET /api/cart/:id", {
      kind: SpanKind.SERVER, startTime: base + i,
      attributes: {
        "http.request.method": "GET", "http.route": "/api/cart/:id", "url.path": `/api/cart/${i}`,
        "http.response.status_code": 200, "server.address": "checkout.internal", "client.address": "10.0.7.21",
        "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64)", "app.cart.items": i % 7
      }
    })
    const ctx = trace.setSpan(ROOT_CONTEXT, root)
    for (let c = 0; c < 3; c++) {
      const child = tracer.startSpan(c === 0 ? "SELECT carts" : "redis GET", {
        kind: SpanKind.CLIENT, startTime: base + i + 0.1 * (c + 1),
        attributes: { "db.system": c === 0 ? "postgresql" : "redis", "db.statement": "SELECT * FROM carts WHERE id = $1", "server.port": 5432 }
      }, ctx)
      if (c === 2) child.addEvent("cache.miss", { "cache.key": `cart:${i}` }, base + i + 0.35)
      if (i % 40 === 0 && c === 1) child.setStatus({ code: SpanStatusCode.ERROR, message: "timeout" })
      child.end(base + i + 0.1 * (c + 1) + 0.05)
    }
    root.end(base + i + 0.9)
  }
  const spans = exporter.getFinishedSpans()
  return { protobuf: ProtobufTraceSerializer.serializeRequest(spans)!, json: JsonTraceSerializer.serializeRequest(spans)! }
}
const requests = Array.from({ length: REQUESTS }, (_, r) => makeRequest(r))
const utf8 = new TextDecoder()
let sink = 0
const run = (label: string, f: (i: number) => number) => { const t0 = process.hrtime.bigint(); for (let i = 0; i < REQUESTS; i++) sink += f(i); console.log(label, (Number(process.hrtime.bigint() - t0) / REQUESTS / SPANS).toFixed(0)) }
const mode = process.argv[3] ?? "alone"
for (let round = 0; round < 8; round++) {
  run("proto", (i) => decodeTraceRequest(requests[i]!.protobuf).resourceSpans.length)
  if (mode === "json") run("  json", (i) => (JSON.parse(utf8.decode(requests[i]!.json)) === null ? 0 : 1))
}
