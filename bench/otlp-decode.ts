/**
 * Decode cost per span, OTLP/protobuf vs OTLP/JSON, for requests built by the OpenTelemetry JS SDK's
 * own serializers. Run: npx tsx bench/otlp-decode.ts [requests=100] [spansPerRequest=1000]
 * V8 sometimes decides early on to pretenure the decoder's objects (allocate them in old space),
 * which makes the protobuf figures GC-bound and 2-3x worse for that run; for steady numbers run
 * node --no-allocation-site-pretenuring --import tsx bench/otlp-decode.ts
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api"
import { JsonTraceSerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer"
import { resourceFromAttributes } from "@opentelemetry/resources"
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { decodeTraces } from "../src/ingest/otlp/index.ts"
import { decodeJsonTraceRequest } from "../src/ingest/otlp/json.ts"
import { decodeTraceRequest } from "../src/ingest/otlp/protobuf.ts"
import { makeRejections } from "../src/ingest/otlp/types.ts"

const REQUESTS = Number(process.argv[2] ?? 100)
const SPANS = Number(process.argv[3] ?? 1000)

const exporter = new InMemorySpanExporter()
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({
    "service.name": "checkout", "service.version": "1.4.2", "deployment.environment": "prod",
    "host.name": "ip-10-0-3-17", "telemetry.sdk.language": "nodejs", "telemetry.sdk.version": "2.12.0"
  }),
  spanProcessors: [new SimpleSpanProcessor(exporter)]
})
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
const totalSpans = REQUESTS * SPANS
const parse = (i: number): unknown => JSON.parse(utf8.decode(requests[i]!.json))

// Each returns something derived from its output so that nothing is optimised away.
const cases: ReadonlyArray<readonly [string, (i: number) => number]> = [
  ["protobuf: decode + normalise (decodeTraces)", (i) => decodeTraces(requests[i]!.protobuf, "protobuf").spans.length],
  ["json: utf8 + JSON.parse + decode + normalise", (i) => decodeTraces(parse(i), "json").spans.length],
  ["  protobuf: wire decode only", (i) => decodeTraceRequest(requests[i]!.protobuf).resourceSpans.length],
  ["  json: utf8 + JSON.parse only", (i) => (parse(i) === null ? 0 : 1)],
  ["  json: utf8 + JSON.parse + shape decode", (i) => decodeJsonTraceRequest(parse(i), makeRejections()).resourceSpans.length]
]

// Rounds interleave the cases so that load from other processes hits them all alike; results are
// dropped at once, as in the server, since retaining 100k decoded spans makes GC dominate.
const samples = cases.map((): Array<number> => [])
let sink = 0
for (let round = 0; round < 9; round++) {
  cases.forEach(([, f], c) => {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < REQUESTS; i++) sink += f(i)
    if (round >= 2) samples[c]!.push(Number(process.hrtime.bigint() - t0) / totalSpans)
  })
}

const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
const bytes = (k: "protobuf" | "json") => requests.reduce((n, r) => n + r[k].length, 0) / totalSpans
console.log(`${REQUESTS} requests x ${SPANS} spans; ${bytes("protobuf").toFixed(0)} B/span protobuf, ${bytes("json").toFixed(0)} B/span JSON`)
console.log(`${"".padEnd(46)} median ns/span   best`)
cases.forEach(([label], c) => {
  console.log(`${label.padEnd(46)} ${median(samples[c]!).toFixed(0).padStart(8)} ${Math.min(...samples[c]!).toFixed(0).padStart(8)}`)
})
const ratio = median(samples[1]!) / median(samples[0]!)
console.log(`protobuf decode+normalise is ${ratio.toFixed(2)}x faster than the JSON path, ` +
  `${(median(samples[3]!) / median(samples[0]!)).toFixed(2)}x faster than utf8 + JSON.parse alone`)
if (sink !== 9 * (2 * totalSpans + 3 * REQUESTS)) console.log(`unexpected output count ${sink}`)
