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

export const Scope = Schema.Literal("ingest", "query")
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
