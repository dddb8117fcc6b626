import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, ValueType } from "@opentelemetry/api"
import type { ExportResult } from "@opentelemetry/core"
import { ExportResultCode } from "@opentelemetry/core"
import { CompressionAlgorithm } from "@opentelemetry/otlp-exporter-base"
import { ProtobufMetricsSerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer"
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto"
import { resourceFromAttributes } from "@opentelemetry/resources"
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base"
import { randomBytes } from "node:crypto"
import { gzipSync } from "node:zlib"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"
import { expectedAttributes, hrTimeMs, pb, recordMetrics, serializeMetrics } from "../ingest/otlpFixtures.ts"
import { drained } from "./queue.ts"

let app: TestApp
beforeAll(async () => {
  app = await startApp()
})
afterAll(async () => {
  await app.close()
})

type SpanDbRow = {
  trace_id: string
  span_id: string
  parent_span_id: string | null
  name: string
  kind: number
  status_code: number
  status_message: string | null
  service_name: string
  scope_name: string | null
  start_ms: number
  duration_ms: number
  resource_attributes: Record<string, unknown>
  attributes: Record<string, unknown>
  events: Array<{ name: string; attributes: Record<string, unknown> }>
}

const spanRows = (tenantId: string) =>
  app.sql<SpanDbRow>(
    `SELECT trace_id, span_id, parent_span_id, name, kind, status_code, status_message, service_name, scope_name,
            extract(epoch FROM start_time)::float8 * 1000 AS start_ms, duration_ms, resource_attributes, attributes, events
     FROM spans WHERE tenant_id = $1 ORDER BY start_time, span_id`, [tenantId]
  )

const spanCount = async (tenantId: string) =>
  Number((await app.sql<{ n: number }>("SELECT count(*)::int AS n FROM spans WHERE tenant_id = $1", [tenantId]))[0]?.n ?? 0)

/** The tenant's span rows once there are exactly `n`. */
const spansWhen = (tenantId: string, n: number) =>
  eventually(async () => {
    const rows = await spanRows(tenantId)
    return rows.length === n ? rows : undefined
  })

const post = (path: string, key: string, body: Uint8Array | string, headers: Record<string, string>) =>
  fetch(`${app.baseUrl}${path}`, { method: "POST", headers: { authorization: `Bearer ${key}`, ...headers }, body })

const hex = (bytes: number) => randomBytes(bytes).toString("hex")
const nowNanos = (offsetMs = 0) => `${BigInt(Date.now() + offsetMs) * 1_000_000n}`

/** An OTLP/JSON trace request: one root span and `children` child spans of one trace. */
const jsonTrace = (service: string, traceId = hex(16), children = 1) => {
  const rootId = hex(8)
  const span = (spanId: string, parentSpanId: string, name: string) => ({
    traceId, spanId, parentSpanId, name, kind: 2,
    startTimeUnixNano: nowNanos(-1000), endTimeUnixNano: nowNanos(),
    attributes: [{ key: "http.route", value: { stringValue: "/checkout" } }, { key: "retries", value: { intValue: "2" } }],
    status: { code: 1 }
  })
  return {
    traceId,
    rootId,
    body: {
      resourceSpans: [{
        resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] },
        scopeSpans: [{
          scope: { name: "manual" },
          spans: [span(rootId, "", "POST /checkout"), ...Array.from({ length: children }, (_, i) => span(hex(8), rootId, `step ${i}`))]
        }]
      }]
    }
  }
}

/** Records the exporter's results, so a test sees what the SDK was told. */
const recording = (exporter: SpanExporter, results: Array<ExportResult>): SpanExporter => ({
  export: (spans, done) => exporter.export(spans, (r) => {
    results.push(r)
    done(r)
  }),
  shutdown: () => exporter.shutdown(),
  forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve()
})

describe("OpenTelemetry JS SDK → POST /v1/traces", () => {
  for (const compression of [CompressionAlgorithm.NONE, CompressionAlgorithm.GZIP]) {
    it(`stores the SDK's spans with ids, parents, names, service and attributes (compression: ${compression})`, async () => {
      const t = await app.tenant()
      const results: Array<ExportResult> = []
      const exporter = new OTLPTraceExporter({ url: `${app.baseUrl}/v1/traces`, headers: { authorization: `Bearer ${t.key}` }, compression })
      const provider = new BasicTracerProvider({
        resource: resourceFromAttributes({ "service.name": "checkout", "deployment.environment": "test" }),
        spanProcessors: [new SimpleSpanProcessor(recording(exporter, results))]
      })
      const tracer = provider.getTracer("checkout-scope", "1.0.0")
      const root = tracer.startSpan("POST /orders", { kind: SpanKind.SERVER, attributes: { "http.method": "POST", "http.status_code": 201, cached: false } })
      const child = tracer.startSpan("INSERT orders", { kind: SpanKind.CLIENT, attributes: { "db.system": "postgresql", rows: 3, ratio: 0.5 } }, trace.setSpan(ROOT_CONTEXT, root))
      child.addEvent("retry", { attempt: 2 })
      child.setStatus({ code: SpanStatusCode.ERROR, message: "deadlock" })
      child.end()
      root.end()
      await provider.forceFlush()
      await provider.shutdown()
      expect(results.map((r) => r.code)).toEqual([ExportResultCode.SUCCESS, ExportResultCode.SUCCESS])

      const rows = await spansWhen(t.id, 2)
      const sdk = (s: { spanContext: () => { traceId: string; spanId: string } }) => s.spanContext()
      const byId = new Map(rows.map((r) => [r.span_id, r]))
      const r = byId.get(sdk(root).spanId)!
      const c = byId.get(sdk(child).spanId)!
      expect(r).toMatchObject({
        trace_id: sdk(root).traceId, parent_span_id: null, name: "POST /orders", kind: 2, status_code: 0,
        service_name: "checkout", scope_name: "checkout-scope",
        attributes: { "http.method": "POST", "http.status_code": 201, cached: false }
      })
      expect(r.resource_attributes).toMatchObject({ "service.name": "checkout", "deployment.environment": "test" })
      expect(c).toMatchObject({
        trace_id: sdk(root).traceId, parent_span_id: sdk(root).spanId, name: "INSERT orders", kind: 3,
        status_code: 2, status_message: "deadlock", service_name: "checkout",
        attributes: { "db.system": "postgresql", rows: 3, ratio: 0.5 }
      })
      expect(c.events).toMatchObject([{ name: "retry", attributes: { attempt: 2 } }])
      const readable = root as unknown as ReadableSpan
      expect(Math.abs(r.start_ms - hrTimeMs(readable.startTime))).toBeLessThan(0.01)
      expect(r.attributes).toEqual(expectedAttributes(readable.attributes))

      // The root span makes the trace an execution, readable through the native API.
      const executions = await app.sql<{ trace_id: string; span_id: string; operation_name: string; service_name: string; source: string; status: string }>(
        "SELECT trace_id, span_id, operation_name, service_name, source, status FROM executions WHERE tenant_id = $1", [t.id]
      )
      expect(executions).toEqual([{ trace_id: sdk(root).traceId, span_id: sdk(root).spanId, operation_name: "POST /orders", service_name: "checkout", source: "otlp", status: "completed" }])
      const view = await call(app, t.key, "GET", `/api/executions/${sdk(root).traceId}`)
      expect(view.status).toBe(200)
      expect(await view.json()).toMatchObject({ traceId: sdk(root).traceId, source: "otlp", status: "completed", operationName: "POST /orders" })
    })
  }

  it("tells the SDK the export failed when the key is wrong, and stores nothing", async () => {
    const t = await app.tenant()
    const results: Array<ExportResult> = []
    const exporter = new OTLPTraceExporter({ url: `${app.baseUrl}/v1/traces`, headers: { authorization: `Bearer ${t.key}x` } })
    const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(recording(exporter, results))] })
    provider.getTracer("x").startSpan("lost").end()
    // The processor passes the export's error on; what matters is what the exporter was told.
    await provider.forceFlush().catch(() => undefined)
    await provider.shutdown().catch(() => undefined)
    expect(results.map((r) => r.code)).toEqual([ExportResultCode.FAILED])
    expect(await spanCount(t.id)).toBe(0)
  })
})

describe("POST /v1/traces", () => {
  it("takes OTLP/JSON, plain and gzip", async () => {
    const t = await app.tenant()
    const plain = jsonTrace("json-plain")
    const zipped = jsonTrace("json-gzip")
    const a = await post("/v1/traces", t.key, JSON.stringify(plain.body), { "content-type": "application/json" })
    const b = await post("/v1/traces", t.key, gzipSync(JSON.stringify(zipped.body)), { "content-type": "application/json", "content-encoding": "gzip" })
    expect([a.status, b.status]).toEqual([200, 200])
    expect(await a.json()).toEqual({})
    const rows = await spansWhen(t.id, 4)
    expect(new Set(rows.map((r) => `${r.trace_id}/${r.service_name}`))).toEqual(new Set([`${plain.traceId}/json-plain`, `${zipped.traceId}/json-gzip`]))
    expect(rows.find((r) => r.span_id === plain.rootId)?.attributes).toEqual({ "http.route": "/checkout", retries: 2 })
  })

  it("stores the same spans sent twice once (an exporter's retry is harmless)", async () => {
    const t = await app.tenant()
    const { body, traceId } = jsonTrace("retrying", hex(16), 3)
    const text = JSON.stringify(body)
    const sends = await Promise.all([1, 2].map(() => post("/v1/traces", t.key, text, { "content-type": "application/json" })))
    expect(sends.map((r) => r.status)).toEqual([200, 200])
    const again = await post("/v1/traces", t.key, gzipSync(text), { "content-type": "application/json", "content-encoding": "gzip" })
    expect(again.status).toBe(200)
    await drained(app)
    expect(await spanCount(t.id)).toBe(4)
    expect(await app.sql("SELECT 1 FROM executions WHERE tenant_id = $1 AND trace_id = $2", [t.id, traceId])).toHaveLength(1)
  })

  it("answers partialSuccess for invalid spans and keeps the valid ones (JSON and protobuf)", async () => {
    const t = await app.tenant()
    const { body, traceId } = jsonTrace("partial", hex(16), 1)
    const spans = body.resourceSpans[0]!.scopeSpans[0]!.spans
    spans.push({ ...spans[1]!, spanId: hex(8), traceId: "not-a-trace-id" })
    const res = await post("/v1/traces", t.key, JSON.stringify(body), { "content-type": "application/json" })
    expect(res.status).toBe(200)
    const json = (await res.json()) as { partialSuccess?: { rejectedSpans?: number; errorMessage?: string } }
    expect(json.partialSuccess?.rejectedSpans).toBe(1)
    expect(json.partialSuccess?.errorMessage).toMatch(/traceId/)

    // protobuf: one good span and one with a too-short trace id, in the same request.
    const goodTrace = hex(16)
    const proto = pb.bytes(pb.len(1,
      pb.len(1, pb.kv(1, "service.name", pb.str(1, "partial-pb"))),
      pb.len(2,
        pb.len(2, pb.hex(1, goodTrace), pb.hex(2, hex(8)), pb.str(5, "good"), pb.fixed64(7, BigInt(nowNanos(-5))), pb.fixed64(8, BigInt(nowNanos()))),
        pb.len(2, pb.hex(1, hex(8)), pb.hex(2, hex(8)), pb.str(5, "bad"), pb.fixed64(7, BigInt(nowNanos(-5))), pb.fixed64(8, BigInt(nowNanos()))))))
    const pbRes = await post("/v1/traces", t.key, proto, { "content-type": "application/x-protobuf" })
    expect(pbRes.status).toBe(200)
    expect(pbRes.headers.get("content-type")).toMatch(/application\/x-protobuf/)
    const decoded = ProtobufTraceSerializer.deserializeResponse(new Uint8Array(await pbRes.arrayBuffer()))
    expect(Number(decoded.partialSuccess?.rejectedSpans)).toBe(1)
    expect(decoded.partialSuccess?.errorMessage).toMatch(/traceId/)

    const rows = await spansWhen(t.id, 3)
    expect(new Set(rows.map((r) => r.trace_id))).toEqual(new Set([traceId, goodTrace]))
  })

  it("refuses an undecodable body with 400 and an unknown media type with 415", async () => {
    const t = await app.tenant()
    const garbage = await post("/v1/traces", t.key, Uint8Array.from([0x0a, 0xff, 0xff, 0xff]), { "content-type": "application/x-protobuf" })
    expect(garbage.status).toBe(400)
    const badJson = await post("/v1/traces", t.key, "{", { "content-type": "application/json" })
    expect(badJson.status).toBe(400)
    const text = await post("/v1/traces", t.key, "hello", { "content-type": "text/plain" })
    expect(text.status).toBe(415)
    const encoding = await post("/v1/traces", t.key, "{}", { "content-type": "application/json", "content-encoding": "zstd" })
    expect(encoding.status).toBe(415)
    const notGzip = await post("/v1/traces", t.key, "{}", { "content-type": "application/json", "content-encoding": "gzip" })
    expect(notGzip.status).toBe(400)
  })
})

describe("POST /v1/metrics", () => {
  const record = (service: string) =>
    recordMetrics({ "service.name": service }, [], (meter) => {
      meter.createCounter("orders_total", { valueType: ValueType.INT }).add(5, { region: "eu" })
      meter.createHistogram("latency_ms").record(120, { route: "/checkout" })
    })

  it("takes protobuf (gzip) and JSON from the SDK's serializers, and a resent export is stored once", async () => {
    const t = await app.tenant()
    const pbReq = serializeMetrics(await record("metrics-pb")).protobuf
    const jsonReq = serializeMetrics(await record("metrics-json")).json
    const a = await post("/v1/metrics", t.key, gzipSync(pbReq), { "content-type": "application/x-protobuf", "content-encoding": "gzip" })
    const b = await post("/v1/metrics", t.key, JSON.stringify(jsonReq), { "content-type": "application/json" })
    expect([a.status, b.status]).toEqual([200, 200])
    expect(ProtobufMetricsSerializer.deserializeResponse(new Uint8Array(await a.arrayBuffer())).partialSuccess?.rejectedDataPoints ?? 0).toBe(0)
    // the retry of the protobuf export
    expect((await post("/v1/metrics", t.key, pbReq, { "content-type": "application/x-protobuf" })).status).toBe(200)

    await drained(app)
    const final = await app.sql<{ name: string; value: number; service_name: string }>(
      "SELECT name, value, service_name FROM metric_points WHERE tenant_id = $1 ORDER BY service_name, name", [t.id]
    )
    for (const service of ["metrics-json", "metrics-pb"]) {
      const mine = final.filter((r) => r.service_name === service)
      expect(mine.find((r) => r.name === "orders_total")?.value).toBe(5)
      expect(mine.find((r) => r.name === "latency_ms.sum")?.value).toBe(120)
      expect(mine.find((r) => r.name === "latency_ms.count")?.value).toBe(1)
      expect(new Set(mine.map((r) => r.name)).size).toBe(mine.length)
    }
  })

  it("rejects non-finite values as partialSuccess and keeps the finite ones", async () => {
    const t = await app.tenant()
    const gauge = (value: unknown) => ({ asDouble: value, timeUnixNano: nowNanos() })
    const body = {
      resourceMetrics: [{
        resource: { attributes: [{ key: "service.name", value: { stringValue: "finite" } }] },
        scopeMetrics: [{ metrics: [{ name: "temperature", gauge: { dataPoints: [gauge(21.5), gauge("NaN"), gauge("Infinity")] } }] }]
      }]
    }
    const res = await post("/v1/metrics", t.key, JSON.stringify(body), { "content-type": "application/json" })
    expect(res.status).toBe(200)
    const json = (await res.json()) as { partialSuccess?: { rejectedDataPoints?: number } }
    expect(json.partialSuccess?.rejectedDataPoints).toBe(2)
    const rows = await eventually(async () => {
      const r = await app.sql<{ value: number }>("SELECT value FROM metric_points WHERE tenant_id = $1", [t.id])
      return r.length > 0 ? r : undefined
    })
    expect(rows).toEqual([{ value: 21.5 }])
  })
})
