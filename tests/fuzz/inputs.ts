import fc from "fast-check"

// Generated inputs for the fuzzers (tests/fuzz/*.test.ts, scripts/fuzz.ts): OTLP requests built from a
// model (valid ones and every kind of wrong value), encoded as protobuf and as OTLP/JSON, then mutated.

const units = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c))

/** Strings that stress parsers and storage: NUL, lone surrogates, prototype keys, enum names, very long. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.string({ maxLength: 16 }), weight: 30 },
  { arbitrary: fc.string({ unit: units, maxLength: 12 }), weight: 15 },
  { arbitrary: fc.string({ unit: "grapheme", maxLength: 8 }), weight: 5 },
  {
    arbitrary: fc.constantFrom("constructor", "__proto__", "toString", "hasOwnProperty", "valueOf", "", "\u0000", "a\u0000b", "\ud800", "\udfff",
      "SPAN_KIND_SERVER", "STATUS_CODE_ERROR", "AGGREGATION_TEMPORALITY_DELTA", "NaN", "Infinity", "-1", "1e400", "service.name", "%|%", "0".repeat(32)),
    weight: 15
  },
  { arbitrary: fc.constantFrom(255, 256, 257, 2_000, 3_000, 65_537).map((n) => "n".repeat(n)), weight: 1 }
)

export const nastyNumber: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: -3, max: 10 }),
  fc.integer(),
  fc.double(),
  fc.constantFrom(70_000, -70_000, 32_767, 32_768, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 64, 1e308, -1e308, Number.MAX_VALUE, 1e-320)
)

const NOW_NS = () => BigInt(Date.now()) * 1_000_000n
/** Span and point times: mostly now, else the edges of what a uint64 of nanoseconds can say. */
export const nanos: fc.Arbitrary<bigint> = fc.oneof(
  { arbitrary: fc.integer({ min: -600_000, max: 60_000 }).map((ms) => NOW_NS() + BigInt(ms) * 1_000_000n), weight: 8 },
  { arbitrary: fc.constantFrom(0n, 1n, 1_000_000n, 2n ** 63n, 2n ** 64n - 1n, 8_640_000_000_000_000_000_000n % 2n ** 64n), weight: 1 },
  { arbitrary: fc.integer({ min: -40, max: 40 }).map((d) => NOW_NS() + BigInt(d) * 86_400_000_000_000n), weight: 1 }
)

const hexOf = (bytes: number) => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString("hex"))
/** Ids: mostly right, sometimes zero, short, long or not hex. */
const id = (bytes: number) => fc.oneof(
  { arbitrary: hexOf(bytes), weight: 8 },
  { arbitrary: fc.constantFrom("", "0".repeat(2 * bytes), "zz".repeat(bytes)), weight: 1 },
  { arbitrary: hexOf(bytes + 1), weight: 1 }
)

export type AnyValueModel =
  | { readonly s: string } | { readonly i: bigint } | { readonly d: number } | { readonly b: boolean }
  | { readonly a: ReadonlyArray<AnyValueModel> } | { readonly kv: ReadonlyArray<KvModel> } | { readonly bytes: Uint8Array } | { readonly none: true }
export interface KvModel { readonly key: string; readonly value: AnyValueModel }

const { anyValue } = fc.letrec<{ anyValue: AnyValueModel; kv: KvModel }>((tie) => ({
  anyValue: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.record({ s: nastyString }),
    fc.record({ i: fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n) }),
    fc.record({ d: nastyNumber }),
    fc.record({ b: fc.boolean() }),
    fc.record({ bytes: fc.uint8Array({ maxLength: 8 }) }),
    fc.constant({ none: true as const }),
    fc.record({ a: fc.array(tie("anyValue"), { maxLength: 3 }) }),
    fc.record({ kv: fc.array(tie("kv"), { maxLength: 3 }) })
  ),
  kv: fc.record({ key: nastyString, value: tie("anyValue") })
}))
const attributes = fc.array(fc.record({ key: nastyString, value: anyValue }), { maxLength: 4 })

const enumish = fc.oneof({ arbitrary: fc.integer({ min: 0, max: 5 }), weight: 6 }, { arbitrary: nastyNumber.map(Math.trunc), weight: 1 }, { arbitrary: nastyString, weight: 1 })

export const spanModel = fc.record({
  traceId: id(16), spanId: id(8), parentSpanId: fc.option(id(8), { nil: "" }), name: nastyString,
  kind: enumish, start: nanos, end: nanos, attributes,
  events: fc.array(fc.record({ name: nastyString, time: nanos, attributes }), { maxLength: 2 }),
  links: fc.array(fc.record({ traceId: id(16), spanId: id(8), attributes }), { maxLength: 1 }),
  status: fc.record({ code: enumish, message: nastyString })
})
export type SpanModel = typeof spanModel extends fc.Arbitrary<infer A> ? A : never

export const traceModel = fc.array(
  fc.record({ resource: attributes, scopes: fc.array(fc.record({ name: nastyString, spans: fc.array(spanModel, { maxLength: 4 }) }), { maxLength: 2 }) }),
  { maxLength: 2 }
)

export const pointModel = fc.record({
  time: nanos, start: nanos, attributes, flags: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3 })),
  value: fc.oneof(nastyNumber, fc.bigInt(-(2n ** 63n), 2n ** 63n - 1n), fc.constant(undefined)),
  count: fc.nat(), sum: fc.option(nastyNumber, { nil: undefined }), quantiles: fc.array(fc.record({ q: nastyNumber, v: nastyNumber }), { maxLength: 2 })
})
export const metricModel = fc.record({
  name: nastyString, unit: nastyString, kind: fc.constantFrom("gauge", "sum", "histogram", "exponentialHistogram", "summary", "none"),
  temporality: enumish, points: fc.array(pointModel, { maxLength: 3 })
})
export const metricsModel = fc.array(
  fc.record({ resource: attributes, scopes: fc.array(fc.record({ name: nastyString, metrics: fc.array(metricModel, { maxLength: 3 }) }), { maxLength: 2 }) }),
  { maxLength: 2 }
)

// Mutations: what a corrupted, truncated or hostile request looks like.

const byteMutation = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ op: fc.constant("set" as const), at: fc.nat(), value: fc.constantFrom(0, 0x7f, 0x80, 0xff, 0x0a, 0x12) }),
  fc.record({ op: fc.constant("cut" as const), at: fc.nat(), length: fc.nat(16) }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 8 }) }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat() })
)

export const mutateBytes = (bytes: Uint8Array, ops: ReadonlyArray<typeof byteMutation extends fc.Arbitrary<infer A> ? A : never>): Uint8Array => {
  let b = Buffer.from(bytes)
  for (const m of ops) {
    if (b.length === 0) break
    const at = m.at % b.length
    if (m.op === "flip") b[at] = b[at]! ^ (1 << m.bit)
    else if (m.op === "set") b[at] = m.value
    else if (m.op === "cut") b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.length)])
    else if (m.op === "insert") b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)])
    else b = b.subarray(0, at)
  }
  return new Uint8Array(b.buffer, b.byteOffset, b.length)
}

/** Protobuf bodies: well-formed, mutated, or noise. */
export const protobufBody = (model: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> => fc.oneof(
  { arbitrary: model, weight: 4 },
  { arbitrary: fc.tuple(model, fc.array(byteMutation, { minLength: 1, maxLength: 4 })).map(([b, ops]) => mutateBytes(b, ops)), weight: 5 },
  { arbitrary: fc.uint8Array({ maxLength: 64 }), weight: 1 }
)

/** A JSON-ish value: plain JSON, or the values an attacker would place where an object is expected. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.jsonValue({ maxDepth: 2 }), weight: 4 },
  { arbitrary: nastyString, weight: 3 },
  { arbitrary: nastyNumber, weight: 2 },
  { arbitrary: fc.constantFrom(null, true, [], {}, [[[[]]]], JSON.parse('{"__proto__":{"polluted":1}}') as unknown, { constructor: { prototype: 1 } }), weight: 1 }
)

const valueMutation = fc.record({ pick: fc.nat(), action: fc.constantFrom("replace" as const, "delete" as const, "wrap" as const), value: hostileValue })

/** Replaces, deletes or wraps one node of `root` (chosen by `pick` over a pre-order walk). */
export const mutateValue = (root: unknown, m: typeof valueMutation extends fc.Arbitrary<infer A> ? A : never): unknown => {
  const nodes: Array<{ parent: Record<string, unknown> | Array<unknown>; key: string | number }> = []
  const stack: Array<unknown> = [root]
  while (stack.length > 0 && nodes.length < 500) {
    const v = stack.pop()
    if (typeof v !== "object" || v === null) continue
    for (const [k, x] of Object.entries(v)) {
      nodes.push({ parent: v as Record<string, unknown>, key: Array.isArray(v) ? Number(k) : k })
      stack.push(x)
    }
  }
  if (nodes.length === 0) return m.value
  const { parent, key } = nodes[m.pick % nodes.length]!
  const target = parent as Record<string | number, unknown>
  if (m.action === "replace") target[key] = m.value
  else if (m.action === "wrap") target[key] = [target[key]]
  else if (Array.isArray(parent)) parent.splice(key as number, 1)
  else delete target[key]
  return root
}

/** JSON bodies: a valid document (as a value), mutated in a few places, or something else entirely. */
export const jsonBody = (model: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> => fc.oneof(
  { arbitrary: model, weight: 3 },
  { arbitrary: fc.tuple(model, fc.array(valueMutation, { minLength: 1, maxLength: 3 })).map(([v, ms]) => ms.reduce(mutateValue, structuredClone(v))), weight: 6 },
  { arbitrary: hostileValue, weight: 1 }
)

export type TraceModel = typeof traceModel extends fc.Arbitrary<infer A> ? A : never
export type MetricsModel = typeof metricsModel extends fc.Arbitrary<infer A> ? A : never
export type PointModel = typeof pointModel extends fc.Arbitrary<infer A> ? A : never
