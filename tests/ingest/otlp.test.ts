import { describe, expect, it } from "@effect/vitest"
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, ValueType } from "@opentelemetry/api"
import { AggregationType } from "@opentelemetry/sdk-metrics"
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base"
import { Effect } from "effect"
import * as fc from "fast-check"
import { decodeMetrics, decodeTraces, OtlpDecodeError } from "../../src/ingest/otlp/index.ts"
import { int64Value, ProtoReader } from "../../src/ingest/otlp/wire.ts"
import {
  bySpanId, expectedRow, hrTimeMs, pb, recordMetrics, recordSpans, serializeMetrics, serializeSpans
} from "./otlpFixtures.ts"

const T0: [number, number] = [1_700_000_000, 123_456_789]

const sampleSpans = (): Array<ReadableSpan> =>
  recordSpans([{ "service.name": "checkout", "deployment.environment": "test" }], (tracerFor) => {
    const tracer = tracerFor(0, "checkout-scope", "1.2.3")
    const root = tracer.startSpan("GET /cart", {
      kind: SpanKind.SERVER, startTime: T0,
      attributes: { "http.method": "GET", "http.status_code": 200, ratio: 0.25, cached: false, tags: ["a", "b"], big: 2 ** 60, neg: -7 }
    })
    root.setAttribute("db.statement", "SELECT * FROM carts WHERE id = $1 AND owner = $2 -- über")
    const ctx = trace.setSpan(ROOT_CONTEXT, root)
    const child = tracer.startSpan("SELECT cart", {
      kind: SpanKind.CLIENT, startTime: [T0[0], T0[1] + 1_500],
      links: [{ context: { traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", traceFlags: 1 }, attributes: { reason: "batch" } }]
    }, ctx)
    child.addEvent("retry", { attempt: 2 }, [T0[0], T0[1] + 2_000])
    child.setStatus({ code: SpanStatusCode.ERROR, message: "deadlock" })
    child.end([T0[0], T0[1] + 3_001])
    root.setStatus({ code: SpanStatusCode.OK })
    root.end([T0[0] + 2, 999_999_999])
  })

const decodeFailure = (f: () => unknown): OtlpDecodeError => {
  try {
    f()
  } catch (e) {
    if (e instanceof OtlpDecodeError) return e
    throw e
  }
  throw new Error("expected an OtlpDecodeError")
}

describe("OTLP traces", () => {
  it("protobuf and JSON encodings of SDK spans give the same, exact rows", () => {
    const spans = sampleSpans()
    const { protobuf, json } = serializeSpans(spans)
    const fromProtobuf = decodeTraces(protobuf, "protobuf")
    const fromJson = decodeTraces(json, "json")
    expect(fromProtobuf).toStrictEqual(fromJson)
    expect(fromProtobuf.rejected).toBe(0)
    expect([...fromProtobuf.spans].sort(bySpanId)).toEqual(spans.map(expectedRow).sort(bySpanId))

    const root = fromProtobuf.spans.find((s) => s.name === "GET /cart")!
    const child = fromProtobuf.spans.find((s) => s.name === "SELECT cart")!
    expect(root).toMatchObject({
      parentSpanId: null, kind: 2, statusCode: 1, statusMessage: null, serviceName: "checkout", scopeName: "checkout-scope",
      startTimeMs: 1_700_000_000_123.456789, durationMs: 2876.54321
    })
    expect(root.attributes).toEqual({
      "http.method": "GET", "http.status_code": 200, ratio: 0.25, cached: false, tags: ["a", "b"], big: "1152921504606846976", neg: -7,
      "db.statement": "SELECT * FROM carts WHERE id = $1 AND owner = $2 -- über"
    })
    expect(child).toMatchObject({ parentSpanId: root.spanId, traceId: root.traceId, kind: 3, statusCode: 2, statusMessage: "deadlock" })
    // 1.501 µs: exact although the epoch floats only resolve ~0.24 µs.
    expect(child.durationMs).toBeCloseTo(0.001501, 12)
    expect(child.events).toEqual([{ name: "retry", timeMs: hrTimeMs([T0[0], T0[1] + 2_000]), attributes: { attempt: 2 } }])
    expect(child.links).toEqual([{ traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", attributes: { reason: "batch" } }])
  })

  it("reads a buffer that is a view at an offset into a larger one", () => {
    const { protobuf } = serializeSpans(sampleSpans())
    const backing = new Uint8Array(protobuf.length + 7)
    backing.set(protobuf, 3)
    expect(decodeTraces(backing.subarray(3, 3 + protobuf.length), "protobuf")).toEqual(decodeTraces(protobuf, "protobuf"))
  })

  const handMadeSpan = (unknown: Array<number>) => pb.bytes(
    unknown,
    pb.len(1,
      unknown,
      pb.len(1, pb.kv(1, "service.name", pb.str(1, "inventory")), unknown),
      pb.len(2,
        pb.len(1, pb.str(1, "inv-scope"), pb.str(2, "9"), unknown),
        pb.len(2,
          pb.hex(1, "5b8efff798038103d269b633813fc60c"), unknown, pb.hex(2, "eee19b7ec3c1b174"),
          pb.hex(4, "eee19b7ec3c1b173"), pb.str(5, "reserve"), pb.int(6, 5),
          pb.fixed64(7, 1_700_000_000_000_000_001n), pb.fixed64(8, 1_700_000_000_250_000_000n),
          pb.kv(9, "s", pb.str(1, "é✓")), pb.kv(9, "min", pb.int(3, -(2n ** 63n))), pb.kv(9, "neg", pb.int(3, -42)),
          pb.kv(9, "d", pb.double(4, -1.5)), pb.kv(9, "nan", pb.double(4, NaN)), pb.kv(9, "raw", pb.len(7, [0xde, 0xad, 0xbe, 0xef])),
          pb.kv(9, "obj", pb.len(6, pb.kv(1, "inner", pb.len(5, pb.len(1, pb.int(2, 1)), pb.len(1, unknown))))),
          pb.kv(9, "empty", unknown),
          pb.len(11, pb.fixed64(1, 1_700_000_000_100_000_000n), pb.str(2, "picked"), unknown),
          pb.len(13, pb.hex(1, "5b8efff798038103d269b633813fc60c"), pb.hex(2, "00f067aa0ba902b7"), unknown, pb.fixed32(6, 1)),
          pb.len(15, pb.str(2, "out of stock"), pb.int(3, 2), unknown),
          pb.fixed32(16, 0x101), unknown))))

  it("decodes every AnyValue kind and skips unknown fields of every wire type at every level", () => {
    const unknown = [
      ...pb.int(99, 2n ** 64n - 1n), ...pb.fixed64(98, 7n), ...pb.str(97, "ignored"), ...pb.fixed32(96, 9),
      ...pb.group(95, pb.int(1, 1), pb.group(2, pb.str(3, "nested group"))), ...pb.int(536_870_911, 1)
    ]
    const plain = decodeTraces(handMadeSpan([]), "protobuf")
    expect(decodeTraces(handMadeSpan(unknown), "protobuf")).toEqual(plain)
    expect(plain.spans).toEqual([{
      traceId: "5b8efff798038103d269b633813fc60c", spanId: "eee19b7ec3c1b174", parentSpanId: "eee19b7ec3c1b173",
      name: "reserve", kind: 5, statusCode: 2, statusMessage: "out of stock",
      startTimeMs: 1_700_000_000_000.000001, endTimeMs: 1_700_000_000_250, durationMs: 249.999999,
      serviceName: "inventory", scopeName: "inv-scope", resourceAttributes: { "service.name": "inventory" },
      attributes: {
        s: "é✓", min: "-9223372036854775808", neg: -42, d: -1.5, nan: "NaN", raw: "3q2+7w==", obj: { inner: [true, null] }, empty: null
      },
      events: [{ name: "picked", timeMs: 1_700_000_000_100, attributes: {} }],
      links: [{ traceId: "5b8efff798038103d269b633813fc60c", spanId: "00f067aa0ba902b7", attributes: {} }]
    }])
  })

  it("accepts the JSON equivalent with snake_case keys, enum names, string and number 64-bit ints", () => {
    const json = {
      resource_spans: [{
        resource: { attributes: [{ key: "service.name", value: { string_value: "inventory" } }] },
        scope_spans: [{
          scope: { name: "inv-scope", version: "9" },
          spans: [{
            trace_id: "5B8EFFF798038103D269B633813FC60C", span_id: "eee19b7ec3c1b174", parent_span_id: "eee19b7ec3c1b173",
            name: "reserve", kind: "SPAN_KIND_CONSUMER", start_time_unix_nano: "1700000000000000001", end_time_unix_nano: "1700000000250000000",
            attributes: [
              { key: "s", value: { stringValue: "é✓" } }, { key: "min", value: { int_value: "-9223372036854775808" } },
              { key: "neg", value: { intValue: "-42" } }, { key: "d", value: { double_value: -1.5 } }, { key: "nan", value: { doubleValue: "NaN" } },
              { key: "raw", value: { bytes_value: "3q2-7w" } },
              { key: "obj", value: { kvlist_value: { values: [{ key: "inner", value: { array_value: { values: [{ bool_value: true }, {}] } } }] } } },
              { key: "empty", value: null }
            ],
            // 1.7000000001e18 is a multiple of 256, so exact as a JSON number too.
            events: [{ time_unix_nano: 1_700_000_000_100_000_000, name: "picked" }],
            links: [{ trace_id: "5b8efff798038103d269b633813fc60c", span_id: "00f067aa0ba902b7", flags: 1 }],
            status: { message: "out of stock", code: "STATUS_CODE_ERROR" }, flags: 257
          }]
        }]
      }]
    }
    expect(decodeTraces(json, "json")).toStrictEqual(decodeTraces(handMadeSpan([]), "protobuf"))
  })

  it("raises OtlpDecodeError for every truncation of a request", () => {
    const { protobuf } = serializeSpans(sampleSpans())
    for (let cut = 1; cut < protobuf.length; cut++) {
      expect(decodeFailure(() => decodeTraces(protobuf.subarray(0, cut), "protobuf")).message).toMatch(/truncated|malformed/)
    }
    expect(decodeTraces(protobuf.subarray(0, 0), "protobuf")).toEqual({ spans: [], rejected: 0, errors: [] })
  })

  it("raises OtlpDecodeError for malformed protobuf and non-OTLP bodies", () => {
    const span = pb.len(2, pb.hex(1, "5b8efff798038103d269b633813fc60c"))
    const schemaUrl = pb.str(3, "abc")
    const cases: Array<[string, Uint8Array]> = [
      ["wire type 7", pb.bytes(pb.tag(3, 7))],
      ["varint over 10 bytes", pb.bytes(pb.tag(3, 0), Array(11).fill(0xff), [0])],
      ["mismatched end-group", pb.bytes(pb.tag(3, 3), pb.tag(4, 4))],
      ["stray end-group", pb.bytes(pb.tag(3, 4))],
      ["field number 0", pb.bytes([0x02, 0x00])],
      ["nested field overruns its message", pb.bytes(pb.len(1, pb.tag(2, 2), [span.length + schemaUrl.length]), span, schemaUrl)]
    ]
    for (const [name, body] of cases) {
      expect(decodeFailure(() => decodeTraces(body, "protobuf")).message, name).toMatch(/malformed|truncated/)
    }
    expect(decodeFailure(() => decodeTraces("not bytes", "protobuf"))._tag).toBe("OtlpDecodeError")
    expect(decodeFailure(() => decodeTraces([1, 2], "json")).message).toMatch(/object/)
    expect(decodeFailure(() => decodeTraces({ resourceSpans: {} }, "json")).message).toMatch(/array/)
    expect(decodeTraces({}, "json")).toEqual({ spans: [], rejected: 0, errors: [] })
  })

  it("counts invalid spans as rejected and keeps the valid ones", () => {
    const { json } = serializeSpans(sampleSpans())
    const request = structuredClone(json) as { resourceSpans: Array<{ scopeSpans: Array<{ spans: Array<unknown> }> }> }
    const spans = request.resourceSpans[0]!.scopeSpans[0]!.spans
    const valid = spans[0] as Record<string, unknown>
    const variant = (patch: Record<string, unknown>) => ({ ...valid, spanId: "1111111111111111", ...patch })
    spans.push(
      variant({ traceId: "abc" }), variant({ spanId: undefined }), variant({ traceId: "0".repeat(32) }),
      variant({ spanId: "zzzzzzzzzzzzzzzz" }), variant({ name: 42 }), variant({ parentSpanId: "12" }),
      variant({ attributes: [{ key: "k", value: { intValue: "1.5" } }] }), variant({ startTimeUnixNano: "-1" }),
      variant({ endTimeUnixNano: undefined }), "not a span",
      variant({ traceId: String(valid.traceId).toUpperCase(), spanId: "2222222222222222" }),
      variant({ spanId: "3333333333333333", parentSpanId: "0000000000000000" })
    )
    const result = decodeTraces(request, "json")
    expect(result.rejected).toBe(10)
    expect(result.errors).toHaveLength(10)
    expect(result.errors.join("\n")).toMatch(/traceId must be 32 hex/)
    expect(result.errors.join("\n")).toMatch(/name must be a string/)
    expect(result.spans.map((s) => s.spanId).sort())
      .toEqual([valid.spanId, (spans[1] as Record<string, unknown>).spanId, "2222222222222222", "3333333333333333"].sort())
    expect(result.spans.find((s) => s.spanId === "2222222222222222")!.traceId).toBe(valid.traceId)
    expect(result.spans.find((s) => s.spanId === "3333333333333333")!.parentSpanId).toBeNull()

    const shortIds = pb.bytes(pb.len(1, pb.len(2,
      pb.len(2, pb.hex(1, "5b8efff798038103"), pb.hex(2, "eee19b7ec3c1b174"), pb.fixed64(7, 1n), pb.fixed64(8, 2n)),
      pb.len(2, pb.hex(1, "5b8efff798038103d269b633813fc60c"), pb.hex(2, "eee19b7ec3c1b174"), pb.fixed64(7, 1n), pb.fixed64(8, 2n)))))
    expect(decodeTraces(shortIds, "protobuf")).toMatchObject({ rejected: 1, spans: [{ spanId: "eee19b7ec3c1b174" }] })
  })

  it("rejects every span of a malformed scope, and keeps '__proto__' as a plain attribute", () => {
    const span = { traceId: "5b8efff798038103d269b633813fc60c", spanId: "eee19b7ec3c1b174", startTimeUnixNano: "1", endTimeUnixNano: "2" }
    const result = decodeTraces({
      resourceSpans: [{
        scopeSpans: [
          { scope: 7, spans: [span, span, span] },
          { spans: [{ ...span, attributes: [{ key: "__proto__", value: { kvlistValue: { values: [{ key: "polluted", value: { boolValue: true } }] } } }] }] }
        ]
      }]
    }, "json")
    expect(result.rejected).toBe(3)
    expect(result.errors[0]).toMatch(/resourceSpans\[0\]\.scopeSpans\[0\]: scope must be an object/)
    const attributes = result.spans[0]!.attributes
    expect(Object.getPrototypeOf(attributes)).toBe(Object.prototype)
    expect(Object.keys(attributes)).toEqual(["__proto__"])
    expect(result.spans[0]!.serviceName).toBe("unknown_service")
  })
})

describe("OTLP metrics", () => {
  it.effect("protobuf and JSON give the same rows for every SDK instrument kind", () =>
    Effect.gen(function* () {
      const rm = yield* Effect.promise(() =>
        recordMetrics({ "service.name": "billing" }, [
          { instrumentName: "payload.size", aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }
        ], (meter) => {
          const requests = meter.createCounter("http.requests", { unit: "{request}" })
          requests.add(5, { route: "/a" })
          requests.add(3, { route: "/a" })
          requests.add(1, { route: "/b" })
          const depth = meter.createUpDownCounter("queue.depth", { valueType: ValueType.INT })
          depth.add(10)
          depth.add(-14)
          const duration = meter.createHistogram("http.duration", { unit: "ms" })
          duration.record(12, { route: "/a" })
          duration.record(30, { route: "/a" })
          meter.createGauge("cpu.temp", { unit: "Cel" }).record(71.5)
          const size = meter.createHistogram("payload.size", { unit: "By" })
          size.record(3)
          size.record(100)
        }))
      const { protobuf, json } = serializeMetrics(rm)
      const fromProtobuf = decodeMetrics(protobuf, "protobuf")
      expect(decodeMetrics(json, "json")).toStrictEqual(fromProtobuf)

      const timeOf = (name: string) =>
        hrTimeMs(rm.scopeMetrics[0]!.metrics.find((m) => m.descriptor.name === name)!.dataPoints[0]!.endTime)
      const row = (name: string, metric: string, value: number, attributes: Record<string, unknown>, unit?: string) =>
        ({ name, value, timeMs: timeOf(metric), serviceName: "billing", attributes, ...(unit === undefined ? {} : { unit }) })
      const byKey = (r: { name: string; attributes: unknown }) => `${r.name} ${JSON.stringify(r.attributes)}`
      const sorted = <R extends { name: string; attributes: unknown }>(rows: Array<R>) =>
        [...rows].sort((a, b) => byKey(a).localeCompare(byKey(b)))
      expect(sorted([...fromProtobuf.points])).toEqual(sorted([
        row("http.requests", "http.requests", 8, { route: "/a" }, "{request}"),
        row("http.requests", "http.requests", 1, { route: "/b" }, "{request}"),
        row("queue.depth", "queue.depth", -4, {}),
        row("http.duration.count", "http.duration", 2, { route: "/a" }),
        row("http.duration.sum", "http.duration", 42, { route: "/a" }, "ms"),
        row("http.duration.min", "http.duration", 12, { route: "/a" }, "ms"),
        row("http.duration.max", "http.duration", 30, { route: "/a" }, "ms"),
        row("cpu.temp", "cpu.temp", 71.5, {}, "Cel"),
        row("payload.size.count", "payload.size", 2, {}),
        row("payload.size.sum", "payload.size", 103, {}, "By"),
        row("payload.size.min", "payload.size", 3, {}, "By"),
        row("payload.size.max", "payload.size", 100, {}, "By")
      ]))
      expect(fromProtobuf.rejected).toBe(0)

      for (const cut of [1, 2, 10, Math.floor(protobuf.length / 2), protobuf.length - 1]) {
        expect(decodeFailure(() => decodeMetrics(protobuf.subarray(0, cut), "protobuf"))._tag).toBe("OtlpDecodeError")
      }
    }))

  const T = 1_700_000_000_500_000_000n
  const TIME_MS = 1_700_000_000_500
  const numberPoint = (...fields: Array<Array<number>>) => pb.len(1, pb.kv(7, "host", pb.str(1, "h1")), ...fields)
  const metricsRequest = pb.bytes(pb.len(1,
    pb.len(1, pb.kv(1, "service.name", pb.str(1, "rpc"))),
    pb.len(2,
      pb.len(2, pb.str(1, "rpc.latency"), pb.str(3, "s"), pb.len(11, pb.len(1,
        pb.kv(7, "method", pb.str(1, "get")), pb.fixed64(2, T - 1000n), pb.fixed64(3, T), pb.fixed64(4, 10n), pb.double(5, 2.5),
        pb.len(6, pb.double(1, 0.5), pb.double(2, 0.2)), pb.len(6, pb.double(1, 0.99), pb.double(2, 0.9))))),
      pb.len(2, pb.str(1, "temp"), pb.len(5,
        numberPoint(pb.fixed64(3, T), pb.double(4, NaN)),
        numberPoint(pb.fixed64(3, T), pb.int(8, 1)),
        numberPoint(pb.double(4, 1)),
        numberPoint(pb.fixed64(3, T), pb.double(4, 21.5)))),
      pb.len(2, pb.str(1, "balance"), pb.len(7, numberPoint(pb.fixed64(3, T), pb.fixed64(6, -5n)), pb.int(2, 2))),
      pb.len(2, pb.str(1, "h"), pb.len(9, pb.len(1, pb.fixed64(3, T), pb.fixed64(4, 3n), pb.fixed64(6, 1n), pb.fixed64(6, 2n),
        pb.len(7, [...Buffer.from(new Float64Array([1]).buffer)])))))))

  it("maps summaries, skips no-value points, rejects non-finite and timeless ones; JSON agrees", () => {
    const fromProtobuf = decodeMetrics(metricsRequest, "protobuf")
    const at = { timeMs: TIME_MS, serviceName: "rpc" }
    expect(fromProtobuf.points).toEqual([
      { name: "rpc.latency.count", value: 10, ...at, attributes: { method: "get" } },
      { name: "rpc.latency.sum", value: 2.5, ...at, attributes: { method: "get" }, unit: "s" },
      { name: "rpc.latency", value: 0.2, ...at, attributes: { method: "get", quantile: 0.5 }, unit: "s" },
      { name: "rpc.latency", value: 0.9, ...at, attributes: { method: "get", quantile: 0.99 }, unit: "s" },
      { name: "temp", value: 21.5, ...at, attributes: { host: "h1" } },
      { name: "balance", value: -5, ...at, attributes: { host: "h1" } },
      { name: "h.count", value: 3, ...at, attributes: {} }
    ])
    expect(fromProtobuf.rejected).toBe(2)
    expect(fromProtobuf.errors).toEqual(['metric "temp": value NaN is not finite', 'metric "temp": timeUnixNano is missing'])

    const host = [{ key: "host", value: { stringValue: "h1" } }]
    const json = {
      resourceMetrics: [{
        resource: { attributes: [{ key: "service.name", value: { stringValue: "rpc" } }] },
        scopeMetrics: [{
          metrics: [
            { name: "rpc.latency", unit: "s", summary: { dataPoints: [{
              attributes: [{ key: "method", value: { stringValue: "get" } }], startTimeUnixNano: "1700000000499999000",
              timeUnixNano: "1700000000500000000", count: "10", sum: 2.5,
              quantile_values: [{ quantile: 0.5, value: 0.2 }, { quantile: 0.99, value: 0.9 }]
            }] } },
            { name: "temp", gauge: { data_points: [
              { attributes: host, timeUnixNano: "1700000000500000000", asDouble: "NaN" },
              { attributes: host, timeUnixNano: "1700000000500000000", flags: 1 },
              { attributes: host, asDouble: 1 },
              { attributes: host, time_unix_nano: "1700000000500000000", as_double: 21.5 }
            ] } },
            { name: "balance", sum: { aggregationTemporality: "AGGREGATION_TEMPORALITY_CUMULATIVE", dataPoints: [
              { attributes: host, timeUnixNano: "1700000000500000000", asInt: "-5" }
            ] } },
            { name: "h", histogram: { dataPoints: [
              { timeUnixNano: "1700000000500000000", count: 3, bucketCounts: ["1", "2"], explicitBounds: [1] }
            ] } }
          ]
        }]
      }]
    }
    expect(decodeMetrics(json, "json")).toStrictEqual(fromProtobuf)
  })

  it("counts malformed JSON data points and keeps the rest", () => {
    const point = (patch: Record<string, unknown>) => ({ timeUnixNano: "1700000000500000000", asDouble: 1, ...patch })
    const result = decodeMetrics({
      resourceMetrics: [{
        scopeMetrics: [{
          metrics: [
            { name: "g", gauge: { dataPoints: [point({}), point({ asDouble: "Infinity" }), point({ asDouble: true }), point({ asDouble: undefined })] } },
            { name: 7, gauge: { dataPoints: [point({}), point({})] } },
            { name: "s", sum: { dataPoints: [point({ timeUnixNano: 1.5 }), point({ asDouble: -2 })] } }
          ]
        }]
      }]
    }, "json")
    expect(result.points.map((p) => [p.name, p.value])).toEqual([["g", 1], ["s", -2]])
    expect(result.rejected).toBe(6)
    expect(result.errors.join("\n")).toMatch(/name must be a string/)
  })
})

describe("OTLP round trip", () => {
  it("64-bit helpers agree with BigInt over the whole range", () => {
    const halves = (n: bigint) => [Number(n & 0xffffffffn), Number(n >> 32n)] as const
    // Around whole milliseconds, where the split's rounded division could be one off.
    const nearMs = fc.tuple(fc.bigInt({ min: 0n, max: (2n ** 64n - 1n) / 1_000_000n }), fc.integer({ min: -2, max: 2 }))
      .map(([k, d]) => BigInt.asUintN(64, k * 1_000_000n + BigInt(d)))
    fc.assert(fc.property(fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), nearMs, fc.constantFrom(0n, 2n ** 53n, 2n ** 64n - 1n)), (n) => {
      const [lo, hi] = halves(n)
      // A fixed64 UnixNanos: whole milliseconds and the nanoseconds past them, as BigInt divides them.
      const bytes = new Uint8Array(8)
      new DataView(bytes.buffer).setBigUint64(0, n, true)
      const r = new ProtoReader(bytes)
      expect(r.nanosMs()).toBe(Number(n / 1_000_000n))
      expect(r.subMsNs).toBe(Number(n % 1_000_000n))
      const signed = BigInt.asIntN(64, n)
      const v = int64Value(lo, hi)
      expect(BigInt(v)).toBe(signed)
      expect(typeof v === "number").toBe(signed >= -(2n ** 53n - 1n) && signed <= 2n ** 53n - 1n)
    }), { numRuns: 2000 })
  })

  const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`)).filter((s) => !/^0+$/.test(s))
  const text = fc.string({ unit: "grapheme", maxLength: 12 })
  const finite = fc.double({ noNaN: true, noDefaultInfinity: true })
  const value = fc.oneof(
    text, fc.boolean(), fc.integer(), finite, fc.constantFrom(2 ** 60, -(2 ** 62), 2 ** 53 + 2, 1e300),
    fc.array(text, { maxLength: 3 }), fc.array(fc.integer(), { maxLength: 3 }),
    fc.array(fc.oneof(finite, fc.constant(null)), { maxLength: 3 })
  )
  const attributes = fc.dictionary(fc.string({ minLength: 1, maxLength: 10 }).filter((k) => k !== "__proto__"), value, { maxKeys: 4 })
    .map((d) => Object.fromEntries(Object.entries(d)))
  const hrTime = fc.tuple(fc.integer({ min: 1, max: 4_000_000_000 }), fc.integer({ min: 0, max: 999_999_999 }))
  const after = ([s, ns]: [number, number], deltaNs: number): [number, number] =>
    [s + Math.floor((ns + deltaNs) / 1e9), (ns + deltaNs) % 1e9]
  const spanSpec = fc.record({
    resource: fc.nat({ max: 1 }), scope: fc.constantFrom("scope-a", "scope-b", ""), name: text,
    kind: fc.constantFrom(SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER),
    parent: fc.option(fc.record({ traceId: hex(32), spanId: hex(16), isRemote: fc.boolean() }), { nil: undefined }),
    start: hrTime, durationNs: fc.integer({ min: 0, max: 1e12 }), attributes,
    events: fc.array(fc.record({ name: text, attributes, offsetNs: fc.integer({ min: 0, max: 1e9 }) }), { maxLength: 2 }),
    links: fc.array(fc.record({ traceId: hex(32), spanId: hex(16), attributes }), { maxLength: 2 }),
    status: fc.record({ code: fc.constantFrom(SpanStatusCode.UNSET, SpanStatusCode.OK, SpanStatusCode.ERROR), message: text })
  })
  const serviceName = fc.option(text, { nil: undefined })

  it("random SDK span sets survive serialize → decode unchanged, in both encodings", () => {
    fc.assert(fc.property(fc.array(spanSpec, { minLength: 1, maxLength: 8 }), serviceName, (specs, service) => {
      const spans = recordSpans([service === undefined ? { "host.name": "a" } : { "service.name": service }, { "host.name": "b" }], (tracerFor) => {
        for (const spec of specs) {
          const ctx = spec.parent === undefined
            ? ROOT_CONTEXT
            : trace.setSpanContext(ROOT_CONTEXT, { traceId: spec.parent.traceId, spanId: spec.parent.spanId, traceFlags: 1, isRemote: spec.parent.isRemote })
          const span = tracerFor(spec.resource, spec.scope, "1.0").startSpan(spec.name, {
            kind: spec.kind, startTime: spec.start, attributes: spec.attributes,
            links: spec.links.map((l) => ({ context: { traceId: l.traceId, spanId: l.spanId, traceFlags: 1 }, attributes: l.attributes }))
          }, ctx)
          for (const e of spec.events) span.addEvent(e.name, e.attributes, after(spec.start, e.offsetNs))
          span.setStatus(spec.status)
          span.end(after(spec.start, spec.durationNs))
        }
      })
      const { protobuf, json } = serializeSpans(spans)
      const fromProtobuf = decodeTraces(protobuf, "protobuf")
      expect(fromProtobuf.rejected).toBe(0)
      expect([...fromProtobuf.spans].sort(bySpanId)).toEqual(spans.map(expectedRow).sort(bySpanId))
      expect(decodeTraces(json, "json")).toStrictEqual(fromProtobuf)
    }))
  })
})
