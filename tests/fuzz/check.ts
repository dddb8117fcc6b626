import fc from "fast-check"
import { MAX_JSON_DEPTH, parseBoundedJson } from "../../src/api/safeJson.ts"
import { MAX_NAME_LENGTH, outsideWindow, timeWindow } from "../../src/domain/limits.ts"
import type { TimeWindow } from "../../src/domain/limits.ts"
import { decodeMetrics, decodeTraces, OtlpDecodeError } from "../../src/ingest/otlp/index.ts"
import type { MetricPointRow, SpanRow } from "../../src/ingest/otlp/index.ts"
import { jsonBody, metricsModel, mutateBytes, protobufBody, traceModel } from "./inputs.ts"
import { metricsJson, metricsPb, traceJson, tracePb } from "./otlpEncode.ts"

// The in-process fuzzer of the OTLP decoders: whatever the bytes, a decoder either refuses the body
// (OtlpDecodeError, the API's 400) or returns rows that PostgreSQL can store as they are. Any other
// exception is a crash; a row that would fail in the ingest stage is a failure too.

export type DecoderInput =
  | { readonly signal: "traces" | "metrics"; readonly format: "protobuf"; readonly body: Uint8Array }
  | { readonly signal: "traces" | "metrics"; readonly format: "json"; readonly text: string }

const text = new TextDecoder()
const encoder = new TextEncoder()
const deep = fc.integer({ min: MAX_JSON_DEPTH - 5, max: 3_000 }).map((n) => "[".repeat(n) + "]".repeat(n))

const jsonTexts = <A>(model: fc.Arbitrary<A>, toJson: (a: A) => unknown, signal: "traces" | "metrics"): fc.Arbitrary<DecoderInput> => fc.oneof(
  { arbitrary: jsonBody(model.map(toJson)).map((v) => JSON.stringify(v) ?? "null"), weight: 8 },
  // Text-level damage: truncated or corrupted JSON.
  { arbitrary: fc.tuple(model.map((m) => encoder.encode(JSON.stringify(toJson(m)))), fc.nat(), fc.uint8Array({ maxLength: 4 })).map(([b, at, junk]) =>
    text.decode(mutateBytes(b, [{ op: "insert", at, bytes: junk }, { op: "truncate", at: at * 7 + 1 }]))), weight: 1 },
  { arbitrary: deep.map((d) => `{"${signal === "traces" ? "resourceSpans" : "resourceMetrics"}":[{"resource":{"attributes":[{"key":"k","value":${d}}]}}]}`), weight: 1 }
).map((t) => ({ signal, format: "json" as const, text: t }))

export const decoderInput: fc.Arbitrary<DecoderInput> = fc.oneof(
  protobufBody(traceModel.map(tracePb)).map((body) => ({ signal: "traces" as const, format: "protobuf" as const, body })),
  protobufBody(metricsModel.map(metricsPb)).map((body) => ({ signal: "metrics" as const, format: "protobuf" as const, body })),
  jsonTexts(traceModel, traceJson, "traces"),
  jsonTexts(metricsModel, metricsJson, "metrics")
)

const HEX = /^[0-9a-f]+$/

/** Why a string cannot go into PostgreSQL text or jsonb, or undefined. */
const badString = (s: string): string | undefined =>
  s.includes("\u0000") ? "holds NUL" : (s as unknown as { isWellFormed(): boolean }).isWellFormed() ? undefined : "holds an unpaired surrogate"

/** Every string (keys too) of a jsonb value storable, nesting under the database's limits, numbers finite. */
const jsonProblem = (v: unknown, depth = 0): string | undefined => {
  if (depth > MAX_JSON_DEPTH) return "nests too deeply"
  if (typeof v === "string") return badString(v)
  if (typeof v === "number") return Number.isFinite(v) ? undefined : "holds a non-finite number"
  if (typeof v !== "object" || v === null) return undefined
  for (const [k, x] of Object.entries(v)) {
    const p = badString(k) ?? jsonProblem(x, depth + 1)
    if (p !== undefined) return p
  }
  return undefined
}

const inWindow = (w: TimeWindow, ms: number) => Number.isFinite(ms) && !outsideWindow(w, ms)

export const spanProblem = (s: SpanRow, w: TimeWindow): string | undefined => {
  if (s.traceId.length !== 32 || !HEX.test(s.traceId) || s.spanId.length !== 16 || !HEX.test(s.spanId)) return "bad id"
  if (s.parentSpanId !== null && (s.parentSpanId.length !== 16 || !HEX.test(s.parentSpanId))) return "bad parent id"
  if (!Number.isInteger(s.kind) || s.kind < 0 || s.kind > 5) return `kind ${s.kind}`
  if (!Number.isInteger(s.statusCode) || s.statusCode < 0 || s.statusCode > 2) return `status ${s.statusCode}`
  if (s.name.length > MAX_NAME_LENGTH || s.serviceName.length > MAX_NAME_LENGTH) return "name too long"
  if (!inWindow(w, s.startTimeMs) || !inWindow(w, s.endTimeMs) || !Number.isFinite(s.durationMs)) return "time outside the window"
  for (const t of [s.name, s.serviceName, s.scopeName ?? "", s.statusMessage ?? ""]) if (badString(t) !== undefined) return `text ${badString(t)}`
  return jsonProblem([s.resourceAttributes, s.attributes, s.events, s.links])
}

export const pointProblem = (p: MetricPointRow, w: TimeWindow): string | undefined => {
  if (p.name.length === 0 || p.name.length > MAX_NAME_LENGTH + 6 || p.serviceName.length > MAX_NAME_LENGTH) return "name length"
  if (!Number.isFinite(p.value)) return "value not finite"
  if (!inWindow(w, p.timeMs)) return "time outside the window"
  return badString(p.name) ?? badString(p.serviceName) ?? jsonProblem(p.attributes)
}

/** undefined when the decoders handled `input` well; else what went wrong (a crash, or an unstorable row). */
export const checkDecoders = (input: DecoderInput): string | undefined => {
  const window = timeWindow(Date.now(), 30 * 86_400, 600)
  try {
    let body: unknown = input.format === "protobuf" ? input.body : undefined
    if (input.format === "json") {
      const parsed = parseBoundedJson(input.text)
      if (!parsed.ok) return undefined
      body = parsed.value
    }
    if (input.signal === "traces") {
      const r = decodeTraces(body, input.format, window)
      for (const s of r.spans) {
        const p = spanProblem(s, window)
        if (p !== undefined) return `accepted an unstorable span (${p})`
      }
    } else {
      const r = decodeMetrics(body, input.format, window)
      for (const pt of r.points) {
        const p = pointProblem(pt, window)
        if (p !== undefined) return `accepted an unstorable point (${p})`
      }
    }
    return undefined
  } catch (e) {
    if (e instanceof OtlpDecodeError) return undefined
    return `crashed: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`
  }
}
