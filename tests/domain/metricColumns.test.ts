import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import fc from "fast-check"
import { createRequire } from "node:module"
import type { IngestJob, MetricRow } from "../../src/domain/jobs.ts"
import { fromMetricColumns, MetricColumnsJob, toMetricColumns } from "../../src/domain/metricColumns.ts"
import { float8Array, int8Array, jsonArray, textArray } from "../../src/ingest/pgArrays.ts"
import { dedupKeys } from "../../src/ingest/persist.ts"
import { decodeWire, fastWire, viaRedis } from "../support/wire.ts"

const text = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom("", "cpu", "a\"b\\c", "{x,y}", "NULL", "é ✓"))
const attributes = fc.oneof(
  fc.dictionary(text, fc.oneof(text, fc.integer(), fc.boolean(), fc.constant(null)), { maxKeys: 3 }),
  fc.constantFrom({}, { host: "h1", region: "eu" })
)
const row: fc.Arbitrary<MetricRow> = fc.record({
  name: fc.constantFrom("cpu", "mem", "gen_ai.client.token.usage.sum"),
  value: fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer()),
  timeMs: fc.oneof(fc.constantFrom(1_764_600_000_000, 1_764_600_000_000.5), fc.integer({ min: 0, max: 2e12 })),
  serviceName: fc.constantFrom("", "api", "db"),
  traceId: fc.constantFrom(null, "5b8efff798038103d269b633813fc60c"),
  attributes
})
const metricsJob = fc.record({
  tenantId: fc.constantFrom("t1"), receivedAtMs: fc.integer({ min: 0, max: 2e12 }), source: fc.constantFrom("native" as const, "otlp" as const),
  traceparent: fc.option(fc.constant("00-5b8efff798038103d269b633813fc60c-1111111111111111-01"), { nil: undefined }),
  points: fc.array(row, { maxLength: 30 })
}).map(({ traceparent, ...j }) => ({ _tag: "metrics" as const, ...j, ...(traceparent === undefined ? {} : { traceparent }) }))

describe("metrics jobs as columns", () => {
  it("round trip: a columns job through JSON decodes to the same metrics job (points in order)", () => {
    fc.assert(fc.property(metricsJob, (job) => {
      // JSON has no -0: the row form lost it the same way.
      expect(viaRedis(toMetricColumns(job))).toEqual(JSON.parse(JSON.stringify(job)))
    }), { numRuns: 300 })
  })

  it("writes each distinct name, service, attribute set and time once, and shares one object per set", () => {
    const attrs = (i: number) => ({ host: `h${i % 2}` })
    const points = Array.from({ length: 100 }, (_, i) => ({ name: `m${i % 3}`, value: i, timeMs: 1000, serviceName: "api", traceId: null, attributes: attrs(i) }))
    const cols = toMetricColumns({ tenantId: "t", receivedAtMs: 1, source: "native", points })
    expect([cols.names.length, cols.services.length, cols.attributeSets.length, cols.times.length, cols.traceIds.length]).toEqual([3, 1, 2, 1, 1])
    const rowJson = JSON.stringify({ _tag: "metrics", tenantId: "t", receivedAtMs: 1, source: "native", points }).length
    expect(JSON.stringify(cols).length).toBeLessThan(rowJson / 3)
    const back = viaRedis(cols)
    if (back._tag !== "metrics") throw new Error(back._tag)
    expect(back.points[0]?.attributes).toBe(back.points[2]?.attributes)
    expect(back.points.map((p) => p.name)).toEqual(points.map((p) => p.name))
  })

  it("an OTLP point's dedup key is the same from rows and from columns (keys are memoised per shared attribute set)", () => {
    fc.assert(fc.property(metricsJob, (job) => {
      const rows = JSON.parse(JSON.stringify(job.points)) as Array<MetricRow>
      const back = viaRedis(toMetricColumns(job))
      if (back._tag !== "metrics") throw new Error(back._tag)
      expect(dedupKeys(back.points, "otlp", "j")).toEqual(dedupKeys(rows, "otlp", "j"))
      expect(dedupKeys(back.points, "native", "j")).toEqual(dedupKeys(rows, "native", "j"))
    }), { numRuns: 100 })
  })

  it("still decodes jobs queued in the row form, unchanged", () => {
    const old = { _tag: "metrics", tenantId: "t", receivedAtMs: 5, source: "native", points: [{ name: "retried", value: 7, timeMs: 9, serviceName: "", traceId: null, attributes: { a: 1 } }] }
    expect(viaRedis(old)).toEqual(old)
    const start = { _tag: "execution-finish", tenantId: "t", receivedAtMs: 5, traceId: "x", seq: 2, result: { success: true } }
    expect(viaRedis(start)).toEqual(start)
  })

  it("refuses a columns job whose column length or index does not match its tables", () => {
    const good = toMetricColumns({ tenantId: "t", receivedAtMs: 1, source: "otlp", points: [{ name: "a", value: 1, timeMs: 2, serviceName: "s", traceId: null, attributes: {} }] })
    expect(Either.isRight(Schema.decodeUnknownEither(MetricColumnsJob)(good))).toBe(true)
    for (const bad of [{ ...good, name: [1] }, { ...good, time: [] }, { ...good, attributes: [0.5] }, { ...good, service: [-1] }, { ...good, value: [1, 2] }]) {
      expect(Either.isLeft(decodeWire(bad))).toBe(true)
      expect(fastWire(bad)).toBeUndefined()
    }
    expect(fromMetricColumns(good).points).toHaveLength(1)
  })
})

describe("array literals for unnest", () => {
  // pg's own conversion, which these replace: the text arrays must be the very same literal.
  const { prepareValue } = createRequire(import.meta.url)("pg/lib/utils.js") as { prepareValue: (v: unknown) => string }
  it("text arrays are pg's literal; float8 and int8 arrays are pg's without the quotes", () => {
    fc.assert(fc.property(fc.array(fc.option(fc.string({ maxLength: 8 }), { nil: null })), (xs) => {
      expect(textArray(xs)).toBe(prepareValue(xs))
    }))
    fc.assert(fc.property(fc.array(fc.oneof(fc.double(), fc.integer())), (xs) => {
      expect(float8Array(xs)).toBe(prepareValue(xs).replace(/"/g, ""))
    }))
    // Values' JSON: control characters, lone surrogates, U+2028, quotes and backslashes in keys and strings.
    const nasty = fc.oneof(fc.string({ unit: "binary", maxLength: 6 }), fc.constantFrom("\u0000", "\n\t\"\\", "\ud800", "\udc00x", "\u2028", "{a,b}", "NULL"))
    const json = fc.oneof(fc.jsonValue(), fc.dictionary(nasty, fc.oneof(nasty, fc.array(nasty, { maxLength: 2 }), fc.integer()), { maxKeys: 4 }))
    fc.assert(fc.property(fc.array(json, { maxLength: 5 }), (xs) => {
      expect(jsonArray(xs)).toBe(prepareValue(xs.map((x) => JSON.stringify(x))))
    }), { numRuns: 500 })
    const keys = ["0", "-9223372036854775808", "9223372036854775807"]
    expect(int8Array(keys)).toBe(prepareValue(keys).replace(/"/g, ""))
  })
})
