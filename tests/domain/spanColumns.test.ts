import { describe, expect, it } from "@effect/vitest"
import { Either, Schema } from "effect"
import fc from "fast-check"
import type { IngestJob, SpanRow } from "../../src/domain/jobs.ts"
import { fromSpanColumns, SpanColumnsJob, toSpanColumns } from "../../src/domain/spanColumns.ts"
import { decodeWire, fastWire, viaRedis } from "../support/wire.ts"

const text = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom("", "GET /", "a\"b\\c", "{x,y}", "NULL", "é ✓"))
const value = fc.oneof(text, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 2 }))
const attributesOf = (key: fc.Arbitrary<string>) =>
  fc.oneof(fc.dictionary(key, value, { maxKeys: 3 }), fc.constantFrom({}, { "http.route": "/cart/:id", "http.response.status_code": 200 }))
const attributes = attributesOf(text)
// A span's own attributes travel as keys and values (no object in the job): also keys JSON.parse makes own
// properties of ("__proto__", which the fast path declines in an object) and keys that would run together if joined.
const spanAttributes = attributesOf(fc.oneof(text, fc.constantFrom("__proto__", "a\u0000b", "a", "b", "constructor")))
// A batch's resources: a few shared objects, as the OTLP normaliser hands them out (one per resource).
const resources = fc.array(fc.record({ serviceName: fc.constantFrom("", "checkout", "db"), attributes }), { minLength: 1, maxLength: 3 })
const hex = (n: number) => fc.array(fc.constantFrom(..."0123456789abcdef"), { minLength: n, maxLength: n }).map((cs) => cs.join(""))
const span = (res: ReadonlyArray<{ serviceName: string; attributes: Record<string, unknown> }>): fc.Arbitrary<SpanRow> =>
  fc.record({
    resource: fc.nat({ max: res.length - 1 }),
    traceId: fc.constantFrom("5b8efff798038103d269b633813fc60c", "0af7651916cd43dd8448eb211c80319c").chain((t) => fc.oneof(fc.constant(t), hex(32))),
    spanId: hex(16),
    parentSpanId: fc.option(hex(16), { nil: null }),
    name: fc.oneof(fc.constantFrom("GET /api/cart/:id", "SELECT carts"), text),
    kind: fc.integer({ min: 0, max: 5 }),
    statusCode: fc.integer({ min: 0, max: 2 }),
    statusMessage: fc.option(text, { nil: null }),
    startTimeMs: fc.oneof(fc.constantFrom(1_764_600_000_000.123456, 1_764_600_000_000), fc.double({ min: 0, max: 2e12, noNaN: true })),
    durationMs: fc.oneof(fc.constantFrom(0, 0.05), fc.double({ min: 0, max: 1e6, noNaN: true })),
    scopeName: fc.constantFrom(null, "@mplp/checkout", "x"),
    attributes: spanAttributes,
    events: fc.array(fc.record({ name: text, timeMs: fc.integer({ min: 0, max: 2e12 }), attributes }), { maxLength: 2 }),
    links: fc.array(fc.record({ traceId: hex(32), spanId: hex(16), attributes }), { maxLength: 1 })
  }).map(({ resource, durationMs, ...s }) => {
    const r = res[resource]!
    return { ...s, endTimeMs: s.startTimeMs + durationMs, durationMs, serviceName: r.serviceName, resourceAttributes: r.attributes }
  })
const spansJob = resources.chain((res) => fc.record({
  tenantId: fc.constantFrom("t1"), receivedAtMs: fc.integer({ min: 0, max: 2e12 }),
  traceparent: fc.option(fc.constant("00-5b8efff798038103d269b633813fc60c-1111111111111111-01"), { nil: undefined }),
  spans: fc.array(span(res), { maxLength: 25 })
})).map(({ traceparent, ...j }) => ({ _tag: "spans" as const, ...j, ...(traceparent === undefined ? {} : { traceparent }) }))

const oneSpan = (over: Partial<SpanRow> = {}): SpanRow => ({
  traceId: "5b8efff798038103d269b633813fc60c", spanId: "1111111111111111", parentSpanId: null, name: "GET /", kind: 2, statusCode: 0,
  statusMessage: null, startTimeMs: 1000.5, endTimeMs: 1002, durationMs: 1.5, serviceName: "checkout", scopeName: null,
  resourceAttributes: { "service.name": "checkout" }, attributes: { a: 1 }, events: [], links: [], ...over
})

describe("spans jobs as columns", () => {
  it("round trip: a columns job through JSON decodes to the same spans job (spans in order)", () => {
    fc.assert(fc.property(spansJob, (job) => {
      // JSON has no -0: the row form lost it the same way.
      expect(viaRedis(toSpanColumns(job))).toEqual(JSON.parse(JSON.stringify(job)))
    }), { numRuns: 300 })
  })

  it("writes each distinct trace id and attributes shape (list of keys) once; the values per span", () => {
    const spans = Array.from({ length: 60 }, (_, i) => oneSpan({
      traceId: `${i % 6}`.repeat(32), spanId: (0x1000000000000000 + i).toString(16),
      attributes: i % 3 === 0 ? { "db.system": "postgresql", "db.statement": `SELECT ${i}` } : { "http.route": "/cart/:id", "http.response.status_code": 200 + i }
    }))
    const cols = toSpanColumns({ tenantId: "t", receivedAtMs: 1, spans })
    expect(cols.traces).toHaveLength(6)
    expect(cols.attributeKeys).toEqual([["db.system", "db.statement"], ["http.route", "http.response.status_code"]])
    expect(cols.attributeValues?.[1]).toEqual(["/cart/:id", 201])
    const json = JSON.stringify(cols)
    expect(json.split("db.statement").length - 1).toBe(1)
    const back = viaRedis(cols)
    if (back._tag !== "spans") throw new Error(back._tag)
    expect(back.spans).toEqual(spans)
    // A key JSON.parse would make an own property stays one, and no prototype is set by a value.
    const proto = viaRedis(toSpanColumns({ tenantId: "t", receivedAtMs: 1, spans: [oneSpan({ attributes: JSON.parse("{\"__proto__\":{\"polluted\":1},\"k\":2}") })] }))
    if (proto._tag !== "spans") throw new Error(proto._tag)
    const a = proto.spans[0]!.attributes
    expect(Object.keys(a)).toEqual(["__proto__", "k"])
    expect(Object.getPrototypeOf(a)).toBe(Object.prototype)
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined()
  })

  it("still decodes columns jobs of the form before stop 34 (a trace id and an attributes object per span)", () => {
    // (No "__proto__" key: in an object the fast path declines it, and viaRedis holds the two paths equal.)
    fc.assert(fc.property(spansJob.filter((j) => j.spans.every((x) => !Object.hasOwn(x.attributes, "__proto__"))), (job) => {
      const { traces, trace, attributeKeys, attributeShape, attributeValues, ...rest } = toSpanColumns(job)
      const old = {
        ...rest,
        traceId: trace!.map((t) => traces![t]!),
        attributes: attributeShape!.map((sh, i) => Object.fromEntries(attributeKeys![sh]!.map((k, j) => [k, attributeValues![i]![j]])))
      }
      expect(viaRedis(old)).toEqual(JSON.parse(JSON.stringify(job)))
    }), { numRuns: 100 })
  })

  it("writes each distinct resource, scope and name once, and shares one attributes object per resource", () => {
    const web = { "service.name": "web", "host.name": "h1" }
    const spans = Array.from({ length: 100 }, (_, i) => oneSpan({
      spanId: (0x1000000000000000 + i).toString(16), name: `op${i % 3}`, scopeName: i % 2 === 0 ? null : "lib",
      // Equal resources in distinct objects are one resource; one object under two service names is two.
      resourceAttributes: i % 4 === 0 ? { ...web } : web, serviceName: i % 5 === 0 ? "other" : "web"
    }))
    const cols = toSpanColumns({ tenantId: "t", receivedAtMs: 1, spans })
    expect([cols.resources.length, cols.services.length, cols.scopes.length, cols.names.length]).toEqual([2, 2, 2, 3])
    const rowJson = JSON.stringify({ _tag: "spans", tenantId: "t", receivedAtMs: 1, spans }).length
    expect(JSON.stringify(cols).length).toBeLessThan(rowJson * 0.7)
    const back = viaRedis(cols)
    if (back._tag !== "spans") throw new Error(back._tag)
    expect(back.spans[1]?.resourceAttributes).toBe(back.spans[2]?.resourceAttributes)
    expect(back.spans.map((s) => [s.name, s.serviceName, s.scopeName])).toEqual(spans.map((s) => [s.name, s.serviceName, s.scopeName]))
  })

  it("still decodes spans jobs queued in the row form, unchanged", () => {
    const old = { _tag: "spans", tenantId: "t", receivedAtMs: 5, spans: [oneSpan({ events: [{ name: "e", timeMs: 1, attributes: {} }] })] }
    expect(viaRedis(old)).toEqual(old)
  })

  it("refuses a columns job whose column length or index does not match its tables", () => {
    const good = toSpanColumns({ tenantId: "t", receivedAtMs: 1, spans: [oneSpan(), oneSpan({ spanId: "2222222222222222", name: "b" })] })
    expect(Either.isRight(Schema.decodeUnknownEither(SpanColumnsJob)(good))).toBe(true)
    const bads: Array<Record<string, unknown>> = [
      { ...good, name: [0, 2] }, { ...good, name: [0] }, { ...good, resource: [0, -1] }, { ...good, scope: [0, 0.5] }, { ...good, resource: [0, 1] },
      { ...good, services: [...good.services, "x"] }, { ...good, resources: [] }, { ...good, spanId: [good.spanId[0]] }, { ...good, kind: [2, 2, 2] },
      { ...good, durationMs: [1] }, { ...good, attributes: [{}] }, { ...good, events: [[]] }, { ...good, links: [[], [], []] },
      { ...good, statusMessage: [null] }, { ...good, parentSpanId: [] }, { ...good, startTimeMs: [1] }, { ...good, endTimeMs: [1, 2, 3] },
      { ...good, statusCode: [0] }, { ...good, trace: [0] }, { ...good, trace: [0, 1] }, { ...good, traces: [] }, { ...good, kind: [2, "2"] },
      { ...good, resources: [[]] }, { ...good, attributeShape: [0, 1] }, { ...good, attributeValues: [[1], []] }, { ...good, attributeValues: [[1]] },
      { ...good, attributeKeys: [] }, { ...good, traceId: ["a", "b"] }, { ...good, attributes: [{}, {}] }, { ...good, trace: undefined },
      { ...good, attributeValues: undefined }
    ]
    for (const bad of bads) {
      expect(Either.isLeft(decodeWire(bad))).toBe(true)
      expect(fastWire(bad)).toBeUndefined()
    }
    expect(fromSpanColumns(good).spans).toHaveLength(2)
  })

  it("refuses a generated columns job with one column cut short or one index out of its table", () => {
    const columns = ["spanId", "parentSpanId", "kind", "statusCode", "statusMessage", "startTimeMs", "endTimeMs", "durationMs", "attributeShape", "attributeValues", "events", "links", "resource", "scope", "name", "trace"] as const
    fc.assert(fc.property(spansJob.filter((j) => j.spans.length > 0), fc.constantFrom(...columns), fc.boolean(), (job, column, cut) => {
      const cols: Record<string, unknown> = JSON.parse(JSON.stringify(toSpanColumns(job)))
      const xs = cols[column] as Array<unknown>
      const table = column === "resource" ? "resources" : column === "scope" ? "scopes" : column === "name" ? "names" : column === "trace" ? "traces" : column === "attributeShape" ? "attributeKeys" : undefined
      if (cut || table === undefined) xs.pop()
      else xs[xs.length - 1] = (cols[table] as Array<unknown>).length
      expect(Either.isLeft(decodeWire(cols))).toBe(true)
      expect(fastWire(cols)).toBeUndefined()
    }), { numRuns: 200 })
  })
})
