import { Data } from "effect"

/** The body as a whole cannot be decoded (truncated or malformed protobuf, non-OTLP JSON). */
export class OtlpDecodeError extends Data.TaggedError("OtlpDecodeError")<{ readonly message: string }> {}
