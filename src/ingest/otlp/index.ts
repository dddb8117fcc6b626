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
 * spans are skipped and counted in `rejected` / `errors` (OTLP `partialSuccess`).
 */
export const decodeTraces = (body: Uint8Array | unknown, contentType: OtlpContentType): TracesResult => {
  if (contentType === "protobuf") return normalizeTraces(decodeTraceRequest(bytes(body)))
  const rej = makeRejections()
  return normalizeTraces(decodeJsonTraceRequest(body, rej), rej)
}

/** OTLP/HTTP `/v1/metrics` body to metric point rows; same contract as `decodeTraces`. */
export const decodeMetrics = (body: Uint8Array | unknown, contentType: OtlpContentType): MetricsResult => {
  if (contentType === "protobuf") return normalizeMetrics(decodeMetricsRequest(bytes(body)))
  const rej = makeRejections()
  return normalizeMetrics(decodeJsonMetricsRequest(body, rej), rej)
}
