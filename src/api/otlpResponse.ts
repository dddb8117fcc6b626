import { HttpServerResponse } from "@effect/platform"

const varint = (n: number): Array<number> => {
  const out: Array<number> = []
  let v = Math.max(0, Math.floor(n))
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80)
    v = Math.floor(v / 0x80)
  }
  out.push(v)
  return out
}

/**
 * Export{Trace,Metrics}ServiceResponse: field 1 partial_success { 1: rejected count (int64), 2: error_message }.
 * The two messages share this layout, so one encoder serves both.
 */
export const encodePartialSuccess = (rejected: number, errorMessage: string): Uint8Array => {
  if (rejected === 0 && errorMessage === "") return new Uint8Array(0)
  const msg = Buffer.from(errorMessage, "utf8")
  const inner = [...(rejected > 0 ? [0x08, ...varint(rejected)] : []), ...(msg.length > 0 ? [0x12, ...varint(msg.length), ...msg] : [])]
  return Uint8Array.from([0x0a, ...varint(inner.length), ...inner])
}

export const otlpResponse = (
  format: "protobuf" | "json",
  signal: "traces" | "metrics",
  rejected: number,
  errors: ReadonlyArray<string>
): HttpServerResponse.HttpServerResponse => {
  const errorMessage = errors.slice(0, 20).join("; ")
  if (format === "protobuf") {
    return HttpServerResponse.uint8Array(encodePartialSuccess(rejected, errorMessage), { contentType: "application/x-protobuf" })
  }
  const field = signal === "traces" ? "rejectedSpans" : "rejectedDataPoints"
  return HttpServerResponse.unsafeJson(rejected === 0 && errorMessage === "" ? {} : { partialSuccess: { [field]: rejected, errorMessage } })
}
