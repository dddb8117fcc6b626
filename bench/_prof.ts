import { ROOT_CONTEXT, SpanKind, trace } from "@opentelemetry/api"
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer"
import { resourceFromAttributes } from "@opentelemetry/resources"
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { decodeTraces } from "../src/ingest/otlp/index.ts"
import { writeFileSync } from "node:fs"
const exporter = new InMemorySpanExporter()
const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ "service.name": "checkout" }), spanProcessors: [new SimpleSpanProcessor(exporter)] })
const tracer = provider.getTracer("@mplp/checkout", "1.4.2")
for (let i = 0; i < 1000; i += 4) {
  const root = tracer.startSpan("GET /api/cart/:id", { kind: SpanKind.SERVER, startTime: 1.7e12 + i, attributes: { "http.request.method": "GET", "http.route": "/api/cart/:id", "url.path": `/api/cart/${i}`, "http.response.status_code": 200, "server.address": "checkout.internal", "client.address": "10.0.7.21", "user_agent.original": "Mozilla/5.0 (X11; Linux x86_64)", "app.cart.items": i % 7 } })
  const ctx = trace.setSpan(ROOT_CONTEXT, root)
  for (let c = 0; c < 3; c++) { const ch = tracer.startSpan("SELECT carts", { kind: SpanKind.CLIENT, startTime: 1.7e12 + i + 0.1, attributes: { "db.system": "postgresql", "db.statement": "SELECT * FROM carts WHERE id = $1", "server.port": 5432 } }, ctx); ch.end(1.7e12 + i + 0.2) }
  root.end(1.7e12 + i + 0.9)
}
const buf = ProtobufTraceSerializer.serializeRequest(exporter.getFinishedSpans())!
writeFileSync("/tmp/scratch/req.bin", buf)
let n = 0
const rs: number[] = []
for (let r = 0; r < 8; r++) {
  const t0 = performance.now()
  for (let k = 0; k < 300; k++) n += decodeTraces(buf, "protobuf").spans.length
  rs.push((performance.now() - t0) * 1e6 / 300 / 1000)
}
console.log(rs.map((x) => x.toFixed(0)).join(" "), "ns/span", n)
