import { Schema } from "effect"
import { excerpt } from "./issues.ts"
import { MAX_NAME_LENGTH } from "./limits.ts"

export const TenantId = Schema.String.pipe(
  Schema.pattern(/^[a-z0-9][a-z0-9_-]{0,62}$/, {
    message: () => "tenant id must be 1-63 characters of a-z, 0-9, '-' or '_', starting with a letter or digit"
  }),
  Schema.brand("TenantId")
)
export type TenantId = typeof TenantId.Type

/** W3C trace-context ids: 32 and 16 lowercase hex digits, not all zero. */
export const TraceId = Schema.String.pipe(
  Schema.pattern(/^(?!0{32})[0-9a-f]{32}$/, { message: () => "traceId must be 32 lowercase hex digits (W3C trace-context)" })
)
export const SpanId = Schema.String.pipe(
  Schema.pattern(/^(?!0{16})[0-9a-f]{16}$/, { message: () => "spanId must be 16 lowercase hex digits (W3C trace-context)" })
)

/** An execution's id in the API: its trace id, or `<traceId>-<spanId>` for a later execution of the same trace. */
export const ExecutionId = Schema.String.pipe(
  Schema.pattern(/^(?!0{32})[0-9a-f]{32}(-(?!0{16})[0-9a-f]{16})?$/, {
    message: () => "an execution id is a trace id (32 lowercase hex digits) or <traceId>-<spanId> (32 and 16 hex digits)"
  })
)

/** A W3C trace-context `traceparent`: version 00 (or a later one, read as 00), trace id, parent span id, flags. */
export interface TraceParent { readonly traceId: string; readonly spanId: string; readonly flags: number }
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/

/** Parses a traceparent as the W3C spec says: version ff and all-zero ids are invalid; version 00 has nothing after the flags. */
export const parseTraceParent = (text: string): TraceParent | undefined => {
  const m = TRACEPARENT.exec(text.trim())
  if (m === null) return undefined
  const [, version = "", traceId = "", spanId = "", flags = "", rest] = m
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined
  return { traceId, spanId, flags: parseInt(flags, 16) }
}

export const formatTraceParent = (traceId: string, spanId: string, flags: number) =>
  `00-${traceId}-${spanId}-${(flags & 0xff).toString(16).padStart(2, "0")}`

/** `ingest` writes data, `query` reads it, `alerts` acknowledges alerts (a write a read-only key must not make). */
export const Scope = Schema.Literal("ingest", "query", "alerts")
export type Scope = typeof Scope.Type

/** A non-empty name of bounded length (metric names, services, operations). */
export const Name = (field: string, max = MAX_NAME_LENGTH) =>
  Schema.String.pipe(
    Schema.minLength(1, { message: () => `${field} must not be empty` }),
    Schema.maxLength(max, { message: () => `${field} must be at most ${max} characters` })
  )

/** A time given as an ISO-8601 string or as epoch milliseconds. */
export const Timestamp = Schema.Union(
  Schema.Number.pipe(Schema.finite(), Schema.between(0, 8.64e15)),
  Schema.String.pipe(
    Schema.filter((s) => !Number.isNaN(Date.parse(s)) || `${excerpt(s)} is not an ISO-8601 time`)
  )
)
export const toEpochMs = (t: typeof Timestamp.Type): number => (typeof t === "number" ? t : Date.parse(t))
