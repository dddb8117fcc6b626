import type { AnyValueModel, KvModel, MetricsModel, PointModel, TraceModel } from "./inputs.ts"

// The fuzzers' OTLP models (tests/fuzz/inputs.ts) encoded as OTLP/JSON and as protobuf.

// OTLP/JSON encoding of the models: enums as numbers or names, 64-bit integers as strings.

const anyJson = (v: AnyValueModel): unknown =>
  "s" in v ? { stringValue: v.s } : "i" in v ? { intValue: String(v.i) } : "d" in v ? { doubleValue: v.d } : "b" in v ? { boolValue: v.b }
    : "a" in v ? { arrayValue: { values: v.a.map(anyJson) } } : "kv" in v ? { kvlistValue: { values: v.kv.map(kvJson) } }
      : "bytes" in v ? { bytesValue: Buffer.from(v.bytes).toString("base64") } : {}
const kvJson = (kv: KvModel) => ({ key: kv.key, value: anyJson(kv.value) })

export const traceJson = (m: TraceModel) => ({
  resourceSpans: m.map((r) => ({
    resource: { attributes: r.resource.map(kvJson) },
    scopeSpans: r.scopes.map((sc) => ({
      scope: { name: sc.name },
      spans: sc.spans.map((s) => ({
        traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId, name: s.name, kind: s.kind,
        startTimeUnixNano: String(s.start), endTimeUnixNano: String(s.end), attributes: s.attributes.map(kvJson),
        events: s.events.map((e) => ({ name: e.name, timeUnixNano: String(e.time), attributes: e.attributes.map(kvJson) })),
        links: s.links.map((l) => ({ traceId: l.traceId, spanId: l.spanId, attributes: l.attributes.map(kvJson) })),
        status: { code: s.status.code, message: s.status.message }
      }))
    }))
  }))
})

const pointJson = (p: PointModel, kind: string) => {
  const base = { timeUnixNano: String(p.time), startTimeUnixNano: String(p.start), attributes: p.attributes.map(kvJson), flags: p.flags }
  const value = p.value === undefined ? {} : typeof p.value === "bigint" ? { asInt: String(p.value) } : { asDouble: p.value }
  switch (kind) {
    case "gauge": case "sum": return { ...base, ...value }
    case "summary": return { ...base, count: p.count, sum: p.sum, quantileValues: p.quantiles.map((q) => ({ quantile: q.q, value: q.v })) }
    default: return { ...base, count: p.count, sum: p.sum, bucketCounts: [String(p.count)], explicitBounds: [1] }
  }
}

export const metricsJson = (m: MetricsModel) => ({
  resourceMetrics: m.map((r) => ({
    resource: { attributes: r.resource.map(kvJson) },
    scopeMetrics: r.scopes.map((sc) => ({
      scope: { name: sc.name },
      metrics: sc.metrics.map((x) => ({
        name: x.name, unit: x.unit,
        ...(x.kind === "none" ? {} : { [x.kind]: { dataPoints: x.points.map((p) => pointJson(p, x.kind)), aggregationTemporality: x.temporality } })
      }))
    }))
  }))
})

// Protobuf encoding of the same models (opentelemetry-proto v1 field numbers), with Buffers: the
// array-based writer of the OTLP tests costs milliseconds per request here.

const varint = (n: number | bigint): Buffer => {
  const out: Array<number> = []
  if (typeof n === "number" && n >= 0 && n <= 0x7fffffff) {
    let v = n
    while (v > 0x7f) {
      out.push((v & 0x7f) | 0x80)
      v >>>= 7
    }
    out.push(v)
    return Buffer.from(out)
  }
  let v = BigInt.asUintN(64, BigInt(n))
  do {
    const b = Number(v & 0x7fn)
    v >>= 7n
    out.push(v > 0n ? b | 0x80 : b)
  } while (v > 0n)
  return Buffer.from(out)
}
const tag = (field: number, wire: number) => varint(field * 8 + wire)
const pb = {
  int: (field: number, n: number | bigint) => Buffer.concat([tag(field, 0), varint(n)]),
  len: (field: number, ...parts: ReadonlyArray<Uint8Array>) => {
    const body = Buffer.concat(parts)
    return Buffer.concat([tag(field, 2), varint(body.length), body])
  },
  str: (field: number, s: string) => pb.len(field, Buffer.from(s, "utf8")),
  fixed64: (field: number, n: bigint) => {
    const b = Buffer.alloc(8)
    b.writeBigUInt64LE(BigInt.asUintN(64, n))
    return Buffer.concat([tag(field, 1), b])
  },
  double: (field: number, x: number) => {
    const b = Buffer.alloc(8)
    b.writeDoubleLE(x)
    return Buffer.concat([tag(field, 1), b])
  }
}
const NONE = Buffer.alloc(0)

const int = (n: number | string) => (typeof n === "number" && Number.isFinite(n) ? Math.trunc(n) : 0)
const anyPb = (v: AnyValueModel): Buffer =>
  "s" in v ? pb.str(1, v.s) : "b" in v ? pb.int(2, v.b ? 1 : 0) : "i" in v ? pb.int(3, v.i) : "d" in v ? pb.double(4, v.d)
    : "a" in v ? pb.len(5, ...v.a.map((x) => pb.len(1, anyPb(x)))) : "kv" in v ? pb.len(6, ...v.kv.map((kv) => kvPb(1, kv)))
      : "bytes" in v ? pb.len(7, v.bytes) : NONE
const kvPb = (field: number, kv: KvModel) => pb.len(field, pb.str(1, kv.key), pb.len(2, anyPb(kv.value)))
const hexPb = (field: number, hex: string) => pb.len(field, Buffer.from(hex.length % 2 === 0 && /^[0-9a-f]*$/.test(hex) ? hex : "", "hex"))

export const tracePb = (m: TraceModel): Uint8Array =>
  Buffer.concat(m.map((r) => pb.len(1,
    pb.len(1, ...r.resource.map((kv) => kvPb(1, kv))),
    ...r.scopes.map((sc) => pb.len(2, pb.len(1, pb.str(1, sc.name)), ...sc.spans.map((s) => pb.len(2,
      hexPb(1, s.traceId), hexPb(2, s.spanId), hexPb(4, s.parentSpanId), pb.str(5, s.name), pb.int(6, int(s.kind)),
      pb.fixed64(7, s.start), pb.fixed64(8, s.end), ...s.attributes.map((kv) => kvPb(9, kv)),
      ...s.events.map((e) => pb.len(11, pb.fixed64(1, e.time), pb.str(2, e.name), ...e.attributes.map((kv) => kvPb(3, kv)))),
      ...s.links.map((l) => pb.len(13, hexPb(1, l.traceId), hexPb(2, l.spanId), ...l.attributes.map((kv) => kvPb(4, kv)))),
      pb.len(15, pb.str(2, s.status.message), pb.int(3, int(s.status.code)))
    ))))
  )))

const pointPb = (p: PointModel, kind: string): Buffer => {
  const times = Buffer.concat([pb.fixed64(2, p.start), pb.fixed64(3, p.time)])
  switch (kind) {
    case "gauge": case "sum":
      return pb.len(1, times, ...p.attributes.map((kv) => kvPb(7, kv)), pb.int(8, p.flags),
        p.value === undefined ? NONE : typeof p.value === "bigint" ? pb.fixed64(6, p.value) : pb.double(4, p.value))
    case "summary":
      return pb.len(1, times, ...p.attributes.map((kv) => kvPb(7, kv)), pb.fixed64(4, BigInt(p.count)), pb.double(5, p.sum ?? 0),
        ...p.quantiles.map((q) => pb.len(6, pb.double(1, q.q), pb.double(2, q.v))), pb.int(8, p.flags))
    default:
      return pb.len(1, times, ...p.attributes.map((kv) => kvPb(9, kv)), pb.fixed64(4, BigInt(p.count)), p.sum === undefined ? NONE : pb.double(5, p.sum), pb.int(10, p.flags))
  }
}
const DATA_FIELD: Record<string, number> = { gauge: 5, sum: 7, histogram: 9, exponentialHistogram: 10, summary: 11 }

export const metricsPb = (m: MetricsModel): Uint8Array =>
  Buffer.concat(m.map((r) => pb.len(1,
    pb.len(1, ...r.resource.map((kv) => kvPb(1, kv))),
    ...r.scopes.map((sc) => pb.len(2, pb.len(1, pb.str(1, sc.name)), ...sc.metrics.map((x) => pb.len(2,
      pb.str(1, x.name), pb.str(3, x.unit),
      x.kind === "none" ? NONE : pb.len(DATA_FIELD[x.kind]!, ...x.points.map((p) => pointPb(p, x.kind)), x.kind === "gauge" || x.kind === "summary" ? NONE : pb.int(2, int(x.temporality)))
    ))))
  )))
