import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Either, FastCheck as fc, Schema } from "effect"
import { prng } from "../../bench/data.ts"
import { fastDecoder } from "../../src/domain/fastDecode.ts"
import { ExecutionFinishJob, IngestJob, MetricsJob, SpansJob } from "../../src/domain/jobs.ts"
import { foldBatch, metricSeriesPoints } from "../../src/aggregation/partials.ts"
import { AggregateJob, AlertJob, DetectJob } from "../../src/domain/pipeline.ts"

// The workers' fast path: a job the compiled predicate takes as it stands must be one the schema
// decodes, to an equal value; and it must take the jobs the stages really write.
const ODD = ["", "x", 0, -1, 1.5, true, null, [], {}, { x: 1 }, [1, "a"]]
const SAME_TYPE_NUMBERS = [-1, 1.5, 0, -0.5, 2 ** 53, 1e300, -1e-300]
const SAME_TYPE_STRINGS = ["", "x", "-01", "7", "a|b"]

/** The value with one field somewhere removed, replaced by an odd value, or an excess key added. */
const mutate = (v: unknown, rnd: () => number): unknown => {
  const int = (n: number) => Math.floor(rnd() * n)
  if (Array.isArray(v)) {
    if (v.length === 0) return int(2) === 0 ? [ODD[int(ODD.length)]] : v
    const i = int(v.length)
    return v.map((x, j) => (j === i ? mutate(x, rnd) : x))
  }
  // Same type, wrong value (what a refinement must catch), or any odd value.
  if (typeof v === "number" && int(2) === 0) return SAME_TYPE_NUMBERS[int(SAME_TYPE_NUMBERS.length)]
  if (typeof v === "string" && int(2) === 0) return SAME_TYPE_STRINGS[int(SAME_TYPE_STRINGS.length)]
  if (typeof v !== "object" || v === null) return ODD[int(ODD.length)]
  const o = { ...(v as Record<string, unknown>) }
  const keys = Object.keys(o)
  const pick = keys[int(keys.length)]
  const roll = int(10) // 5-9: go deeper, so that nested fields get their turn
  if (pick !== undefined && roll === 0) delete o[pick]
  else if (pick !== undefined && roll === 1) o[pick] = ODD[int(ODD.length)]
  else if (pick !== undefined && roll === 4) {
    // A renamed key: an excess key for a struct, a key a record's key pattern may refuse.
    o[SAME_TYPE_STRINGS[int(SAME_TYPE_STRINGS.length)] as string] = o[pick]
    delete o[pick]
  } else if (roll === 2 || pick === undefined) o[`extra${int(3)}`] = 1
  else o[pick] = mutate(o[pick], rnd)
  return o
}

/** Generated jobs, as they travel (encoded, through JSON), half of them mutated; returns how many the fast path took. */
const agrees = <A, I>(schema: Schema.Schema<A, I>, runs: number, values: fc.Arbitrary<A> = Arbitrary.make(schema)) => {
  const fast = fastDecoder(schema)
  const slow = Schema.decodeUnknownEither(schema)
  const encode = Schema.encodeSync(schema)
  let taken = 0
  fc.assert(fc.property(values, fc.boolean(), fc.integer(), (value, doMutate, seed) => {
    const wire = JSON.stringify(doMutate ? mutate(JSON.parse(JSON.stringify(encode(value))), prng(seed)) : encode(value))
    const fastValue = fast?.(JSON.parse(wire))
    if (fastValue === undefined) return
    taken++
    const decoded = slow(JSON.parse(wire))
    expect(Either.isRight(decoded)).toBe(true)
    if (Either.isRight(decoded)) expect(fastValue).toStrictEqual(decoded.right)
  }), { numRuns: runs })
  return taken
}

const aggregateJobs: fc.Arbitrary<AggregateJob> = fc.record({
  points: fc.array(fc.record({
    name: fc.constantFrom("cpu", "mem|x", "lat%"), serviceName: fc.constantFrom("a", "b"), value: fc.oneof(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.constant(0)),
    timeMs: fc.integer({ min: 0, max: 10_000 })
  }), { minLength: 1, maxLength: 20 }),
  windowSizeMs: fc.constantFrom(1000, 10_000)
}).map(({ points, windowSizeMs }) => ({
  tenantId: "t", sourceJobId: "t.j", windowSizeMs, maxEventTimeMs: Math.max(...points.map((p) => p.timeMs)),
  partials: foldBatch(metricSeriesPoints(points.map((p) => ({ ...p, traceId: null, attributes: {} }))), windowSizeMs)
}))

describe("the stage workers' fast decode", () => {
  it("takes only jobs the schema decodes, as the schema decodes them", () => {
    // (The execution start job's ids are patterns with lookaheads, which the generator cannot make;
    // a sketch must add up, which generated ones seldom do: aggregate jobs are folded from points.)
    expect(agrees(IngestJob, 300, Arbitrary.make(Schema.Union(MetricsJob, SpansJob, ExecutionFinishJob)))).toBeGreaterThan(50)
    expect(agrees(AggregateJob, 600, aggregateJobs)).toBeGreaterThan(200)
    expect(agrees(DetectJob, 200)).toBeGreaterThan(50)
    expect(agrees(AlertJob, 400)).toBeGreaterThan(50)
  })

  it("takes the metric and span jobs the ingest stage is sent; leaves wrong ones to the schema", () => {
    const fast = fastDecoder(IngestJob)
    const metrics = { _tag: "metrics", tenantId: "t", receivedAtMs: 1, source: "otlp", traceparent: "00-x",
      points: [{ name: "cpu", value: 1, timeMs: 2, serviceName: "s", traceId: null, attributes: { host: "a", n: 1 } }] }
    expect(fast?.(metrics)).toBe(metrics)
    const span = { traceId: "a", spanId: "b", parentSpanId: null, name: "n", kind: 1, statusCode: 0, statusMessage: null, startTimeMs: 1, endTimeMs: 2,
      durationMs: 1, serviceName: "s", scopeName: null, resourceAttributes: {}, attributes: { k: [1] }, events: [], links: [] }
    const spans = { _tag: "spans", tenantId: "t", receivedAtMs: 1, spans: [span] }
    if (fast?.(spans) === undefined) console.warn("spans jobs take the schema's path (SpanRow has parts the fast path cannot vouch for)")
    // A refined field, a refined record key, a struct-wide refinement: each fails the fast path.
    const agg = fastDecoder(AggregateJob)
    const points = [3, 4, -2, 0].map((value, i) => ({ name: "cpu", serviceName: "s", value, timeMs: i, traceId: null, attributes: {} }))
    const wire = JSON.stringify(Schema.encodeSync(AggregateJob)({ tenantId: "t", sourceJobId: "t.j", windowSizeMs: 1000, maxEventTimeMs: 3, partials: foldBatch(metricSeriesPoints(points), 1000) }))
    const folded = JSON.parse(wire)
    expect(agg?.(folded)).toBe(folded)
    for (const breakIt of [(j: typeof folded) => { j.partials[0].agg.count = -1 }, (j: typeof folded) => { j.partials[0].agg.sketch.pos = { x: 2 } }, // 2 positive points, under a key that is no bucket
      (j: typeof folded) => { j.partials[0].agg.sketch.zeroCount += 1 }]) {
      const broken = JSON.parse(wire)
      breakIt(broken)
      expect(agg?.(broken)).toBeUndefined()
    }
    for (const bad of [{ ...metrics, source: "other" }, { ...metrics, points: [{ ...metrics.points[0], value: "1" }] }, { ...metrics, points: [{ ...metrics.points[0], traceId: undefined }] },
      { ...metrics, tenantId: undefined }, { ...metrics, _tag: "nope" }, { ...metrics, points: [{ ...metrics.points[0], attributes: [] }] }]) {
      expect(fast?.(JSON.parse(JSON.stringify(bad)))).toBeUndefined()
      expect(Either.isLeft(Schema.decodeUnknownEither(IngestJob)(JSON.parse(JSON.stringify(bad))))).toBe(true)
    }
  })
})
