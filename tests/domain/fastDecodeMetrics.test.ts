import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import fc from "fast-check"
import { metricBatch } from "../../bench/data.ts"
import { parseBoundedJson } from "../../src/api/safeJson.ts"
import { fastDecoder } from "../../src/domain/fastDecode.ts"
import { MetricsRequest } from "../../src/domain/ingest.ts"

const fastMetricsRequest = fastDecoder(MetricsRequest)!

// The fast path of POST /api/metrics (the request schema compiled by fastDecode.ts) may only ever accept what the schema accepts, as the schema
// would decode it; and it must take the bodies clients really send, or it is dead weight.
const schemaDecode = Schema.decodeUnknownEither(MetricsRequest, { errors: "all", onExcessProperty: "ignore" })

const name = fc.oneof(fc.string({ minLength: 0, maxLength: 5 }), fc.constant("x".repeat(256)), fc.constant("x".repeat(257)), fc.constant("cpu"))
const num = fc.oneof(fc.double(), fc.integer(), fc.constantFrom(0, -0, 1e-101, 1e-100, 1e100, 1e101, Infinity, NaN, 8.64e15, 8.64e15 + 1, -1))
const anyValue = fc.oneof(num, name, fc.boolean(), fc.constant(null), fc.constant([1]), fc.constant({}),
  fc.constantFrom("2026-12-01T10:00:00Z", "not a time", "5b8efff798038103d269b633813fc60c", "0".repeat(32), "5B8EFFF798038103D269B633813FC60C"))
const attributes = fc.oneof(
  fc.dictionary(fc.oneof(name, fc.constant("__proto__")), fc.oneof(num, name, fc.boolean(), fc.constant(null), fc.constant({ a: 1 })), { maxKeys: 4 }),
  fc.constant(Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`k${i}`, i]))),
  anyValue
)
const wildPoint = fc.record({
  name: fc.oneof(name, anyValue), value: anyValue, time: anyValue, serviceName: fc.oneof(name, anyValue), traceId: anyValue,
  attributes, extra: anyValue
}, { requiredKeys: [] })
// Mostly valid points, each field now and then replaced by an edge or a wrong value.
const validPoint = fc.record({
  name: fc.string({ minLength: 1, maxLength: 8 }), value: fc.oneof(fc.integer(), fc.constantFrom(0, -0, 0.5, 1e-100, 1e100)),
  time: fc.oneof(fc.integer({ min: 0, max: 2e12 }), fc.constant("2026-12-01T10:00:00.000Z")), serviceName: fc.string({ minLength: 1, maxLength: 8 }),
  traceId: fc.constant("5b8efff798038103d269b633813fc60c"),
  attributes: fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.boolean()), { maxKeys: 3 })
}, { requiredKeys: ["name", "value"] })
const mutated = fc.tuple(validPoint, fc.constantFrom("name", "value", "time", "serviceName", "traceId", "attributes", "extra"), anyValue)
  .map(([p, k, v]) => ({ ...p, [k]: v }))
const point = fc.oneof({ arbitrary: validPoint, weight: 4 }, { arbitrary: mutated, weight: 3 }, { arbitrary: wildPoint, weight: 1 })
const body = fc.oneof(
  fc.record({ points: fc.array(point, { minLength: 0, maxLength: 4 }) }),
  fc.record({ points: fc.array(point, { minLength: 1, maxLength: 3 }), other: anyValue }),
  anyValue
)

describe("the fast path of POST /api/metrics", () => {
  it("accepts only bodies the schema accepts, with an equal value", () => {
    let taken = 0
    fc.assert(fc.property(body, (b) => {
      // As the server sees it: parsed from JSON text (own __proto__ keys and all).
      const parsed = parseBoundedJson(JSON.stringify(b))
      if (!parsed.ok) return
      const fast = fastMetricsRequest(parsed.value)
      if (fast === undefined) return
      taken++
      const again = parseBoundedJson(JSON.stringify(b))
      const slow = schemaDecode(again.ok ? again.value : undefined)
      expect(Either.isRight(slow)).toBe(true)
      if (Either.isRight(slow)) expect(fast).toStrictEqual(slow.right)
    }), { numRuns: 3_000 })
    expect(taken).toBeGreaterThan(150)
  })

  it("takes what clients send: the benchmark's batches, times, trace ids and attributes", () => {
    const points = metricBatch(7, 3, 500).map((p, i) => ({ ...p, ...(i % 3 === 0 ? { time: Date.now() } : i % 3 === 1 ? { time: new Date().toISOString() } : {}), ...(i % 5 === 0 ? { traceId: "5b8efff798038103d269b633813fc60c" } : {}) }))
    const parsed = parseBoundedJson(JSON.stringify({ points }))
    if (!parsed.ok) throw new Error(parsed.message)
    expect(fastMetricsRequest(parsed.value)?.points).toHaveLength(500)
  })

  it("leaves every invalid body to the schema, which names the field", () => {
    for (const bad of [{ points: [] }, { points: [{ name: "", value: 1 }] }, { points: [{ name: "a", value: Infinity }] }, { points: [{ name: "a", value: 1, traceId: "xyz" }] },
      { points: [{ name: "a", value: 1, attributes: { k: { nested: true } } }] }, { points: [{ name: "a", value: 1e101 }] }]) {
      expect(fastMetricsRequest(bad)).toBeUndefined()
      expect(Either.isLeft(schemaDecode(bad))).toBe(true)
    }
  })
})
