import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { timeWindow } from "../../src/domain/limits.ts"
import { decodeMetrics, decodeTraces } from "../../src/ingest/otlp/index.ts"
import { checkDecoders, decoderInput } from "./check.ts"

// A bounded run of the decoder fuzzer (`npm run fuzz -- --runs N` runs millions): generated OTLP
// requests, protobuf and JSON, valid and mutated. A decoder refuses a body or returns storable rows.
describe("OTLP decoders under generated input", () => {
  it("never throw anything but OtlpDecodeError, and every row they return can be stored", () => {
    fc.assert(fc.property(decoderInput, (input) => {
      expect(checkDecoders(input)).toBeUndefined()
    }), { numRuns: 1_500 })
  })
})

describe("what the fuzzer found", () => {
  it("a time given as a JSON number beyond uint64 is a rejected point or span, not a RangeError", () => {
    const window = timeWindow(Date.now(), 30 * 86_400, 600)
    const metrics = decodeMetrics({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: "g", gauge: { dataPoints: [
      { timeUnixNano: 1e300, asDouble: 1 }, { timeUnixNano: 99999999999999999999, asDouble: 1 }, { timeUnixNano: "99999999999999999999", asDouble: 1 }
    ] } }] }] }] }, "json", window)
    expect(metrics).toMatchObject({ points: [], rejected: 3 })
    const traces = decodeTraces({ resourceSpans: [{ scopeSpans: [{ spans: [
      { traceId: "5b8efff798038103d269b633813fc60c", spanId: "eee19b7ec3c1b174", startTimeUnixNano: 1e300, endTimeUnixNano: 1e300 }
    ] }] }] }, "json", window)
    expect(traces).toMatchObject({ spans: [], rejected: 1 })
  })
})
