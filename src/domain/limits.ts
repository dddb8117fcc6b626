// Bounds on what a tenant may send, shared by the native API and the OTLP receiver: whatever passes
// them can be stored. README "Limits" lists them with what happens past each.

/**
 * Metric, span, service, operation and event names, in UTF-16 code units (at most 3 UTF-8 bytes each,
 * as `%` and `|` are once escaped in a series key). A series key (metric|service|operation, at most two
 * of them a client's) and the spans index (service, name) stay far under the 2,704 bytes a btree index
 * entry may hold; names of ~2.7 KB failed the insert.
 */
export const MAX_NAME_LENGTH = 256
/** Attributes per set (a resource, span, event, link, data point or native point); OpenTelemetry's SDK default. */
export const MAX_ATTRIBUTES = 128
export const MAX_ATTRIBUTE_KEY_LENGTH = 256
/** One string attribute value, in UTF-16 code units. */
export const MAX_ATTRIBUTE_VALUE_LENGTH = 65_536
/** Elements of one array or key-value list attribute value. */
export const MAX_ATTRIBUTE_ELEMENTS = 1_024
/** Nesting of array and key-value list attribute values. */
export const MAX_ATTRIBUTE_DEPTH = 16
/**
 * Metric values (and execution durations): 0, or a magnitude between 1e-100 and 1e100. PostgreSQL
 * raises an error when float arithmetic overflows or underflows to 0 (the continuous aggregates sum
 * value × value: one point of 1e200 failed the refresh for every tenant), and the window statistics
 * (sums, squared deviations) must stay finite; squares and sums of values in this range do.
 */
export const MAX_VALUE_MAGNITUDE = 1e100
export const MIN_VALUE_MAGNITUDE = 1e-100
export const storableValue = (x: number) => x === 0 || (Math.abs(x) >= MIN_VALUE_MAGNITUDE && Math.abs(x) <= MAX_VALUE_MAGNITUDE)
export const VALUE_RANGE = "0 or a magnitude between 1e-100 and 1e100"
/** A native execution's duration: start_time + duration must stay a timestamp. */
export const MAX_DURATION_MS = 366 * 86_400_000

/** Event times the service accepts, in epoch ms: each distinct day of them creates a database chunk. */
export interface TimeWindow {
  readonly minMs: number
  readonly maxMs: number
}

export const timeWindow = (nowMs: number, maxAgeSeconds: number, maxFutureSeconds: number): TimeWindow => ({
  minMs: nowMs - maxAgeSeconds * 1000,
  maxMs: nowMs + maxFutureSeconds * 1000
})

export const outsideWindow = (w: TimeWindow, ms: number) => !(ms >= w.minMs && ms <= w.maxMs)

export const describeWindow = (w: TimeWindow) =>
  `must be between ${new Date(w.minMs).toISOString()} and ${new Date(w.maxMs).toISOString()} (MPLP_EVENT_MAX_AGE_SECONDS before now to MPLP_EVENT_MAX_FUTURE_SECONDS after)`
