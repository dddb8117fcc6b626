import type { TimeWindow } from "../../domain/limits.ts"
import { OtlpDecodeError } from "./errors.ts"
import { decodeJsonMetricsRequest, decodeJsonTraceRequest } from "./json.ts"
import { normalizeMetrics, normalizeTraces } from "./normalize.ts"
import type { MetricsResult, TracesResult } from "./normalize.ts"
import { decodeMetricsRequest, decodeTraceRequest } from "./protobuf.ts"
import { makeRejections } from "./types.ts"

export { OtlpDecodeError } from "./errors.ts"
export type { MetricPointRow, MetricsResult, SpanEventRow, SpanLinkRow, SpanRow, TracesResult } from "./normalize.ts"

export type OtlpContentType = "protobuf" | "json"

const bytes = (body: unknown): Uint8Array => {
  if (body instanceof Uint8Array) return body
  throw new OtlpDecodeError({ message: "an OTLP/protobuf body must be bytes" })
}

/**
 * OTLP/HTTP `/v1/traces` body to span rows: bytes for "protobuf", the parsed JSON value for
 * "json". Throws OtlpDecodeError when the body as a whole is undecodable; individual invalid
 * spans (bad ids or enums, over a bound of src/domain/limits.ts, times outside `window` when given)
 * are skipped and counted in `rejected` / `errors` (OTLP `partialSuccess`). Every span returned can
 * be stored as it is (for JSON, given a value from the API's parseJson, whose strings are storable).
 */
export const decodeTraces = (body: Uint8Array | unknown, contentType: OtlpContentType, window?: TimeWindow): TracesResult => {
  const rej = makeRejections()
  const req = contentType === "protobuf" ? decodeTraceRequest(bytes(body)) : decodeJsonTraceRequest(body, rej)
  return normalizeTraces(req, rej, window)
}

/** OTLP/HTTP `/v1/metrics` body to metric point rows; same contract as `decodeTraces`. */
export const decodeMetrics = (body: Uint8Array | unknown, contentType: OtlpContentType, window?: TimeWindow): MetricsResult => {
  const rej = makeRejections()
  const req = contentType === "protobuf" ? decodeMetricsRequest(bytes(body)) : decodeJsonMetricsRequest(body, rej)
  return normalizeMetrics(req, rej, window)
}
