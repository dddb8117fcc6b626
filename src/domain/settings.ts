import { Schema } from "effect"
import { ChannelSchema } from "./channels.ts"
import { Budgets, Pricing } from "./pricing.ts"

const Positive = (field: string) => Schema.Number.pipe(Schema.finite(), Schema.positive({ message: () => `${field} must be > 0` }))
const Int = (field: string, min: number, max: number) =>
  Schema.Number.pipe(Schema.int({ message: () => `${field} must be an integer` }), Schema.between(min, max, { message: () => `${field} must be between ${min} and ${max}` }))

export const ThresholdRuleSchema = Schema.Struct({
  warning: Schema.optional(Schema.Number.pipe(Schema.finite())),
  critical: Schema.optional(Schema.Number.pipe(Schema.finite())),
  direction: Schema.optional(Schema.Literal("above", "below"))
})

/** The OpenTelemetry GenAI / OpenInference recognition at ingest. */
export const GenaiSettings = Schema.Struct({
  /** Keep prompt and completion contents (gen_ai.input.messages, gen_ai.prompt.*, input.value, …); dropped and counted otherwise. */
  storeContent: Schema.Boolean
})

/**
 * A tenant's settings document. Stored whole in the database; `tenants/default.json` supplies every
 * field a tenant's document leaves out. Unknown fields are refused so a misspelt one is not ignored.
 */
export const TenantSettings = Schema.Struct({
  windows: Schema.Struct({
    sizeSeconds: Int("windows.sizeSeconds", 1, 3600),
    allowedLatenessSeconds: Int("windows.allowedLatenessSeconds", 0, 3600),
    idleTimeoutSeconds: Int("windows.idleTimeoutSeconds", 1, 86400)
  }),
  detector: Schema.Struct({
    enabled: Schema.Boolean,
    alpha: Schema.Number.pipe(Schema.greaterThan(0), Schema.lessThanOrEqualTo(1, { message: () => "detector.alpha must be in (0, 1]" })),
    warmupWindows: Int("detector.warmupWindows", 1, 10_000),
    zWarning: Positive("detector.zWarning"),
    zCritical: Positive("detector.zCritical"),
    /** The same tool (or agent → model call) more often than this in one execution raises agent_loop_suspected. */
    maxRepeatedCalls: Int("detector.maxRepeatedCalls", 1, 1_000_000)
  }).pipe(Schema.filter((d) => d.zCritical >= d.zWarning || "detector.zCritical must be >= detector.zWarning")),
  thresholds: Schema.Record({ key: Schema.String, value: ThresholdRuleSchema }),
  alerting: Schema.Struct({
    cooldownSeconds: Int("alerting.cooldownSeconds", 0, 86400),
    resolveAfterWindows: Int("alerting.resolveAfterWindows", 1, 1000)
  }),
  channels: Schema.Array(ChannelSchema),
  quotas: Schema.Struct({
    requestsPerSecond: Int("quotas.requestsPerSecond", 1, 1_000_000),
    pointsPerSecond: Int("quotas.pointsPerSecond", 1, 100_000_000),
    /** Request bodies as received (compressed or not). */
    bytesPerSecond: Int("quotas.bytesPerSecond", 1_024, 10_000_000_000)
  }),
  limits: Schema.Struct({
    /** Series (metric|service|operation) with a point in the last MPLP_SERIES_IDLE_SECONDS. */
    maxActiveSeries: Int("limits.maxActiveSeries", 1, 10_000_000),
    /** The tenant's share of the ingest backlog: points (spans, events) accepted and not yet stored. */
    maxBacklogPoints: Int("limits.maxBacklogPoints", 1, 100_000_000),
    /** The same in request bytes. */
    maxBacklogBytes: Int("limits.maxBacklogBytes", 1_024, 100_000_000_000)
  }),
  traceTimeoutSeconds: Int("traceTimeoutSeconds", 1, 7 * 86400),
  genai: GenaiSettings,
  pricing: Pricing,
  budgets: Budgets
})
export type TenantSettings = typeof TenantSettings.Type

/** Objects merge field by field; arrays and scalars of `override` replace those of `base`. */
export const deepMerge = (base: unknown, override: unknown): unknown => {
  if (isPlainObject(base) && isPlainObject(override)) {
    const out: Record<string, unknown> = { ...base }
    for (const [k, v] of Object.entries(override)) out[k] = k in base ? deepMerge(base[k], v) : v
    return out
  }
  return override === undefined ? base : override
}

const isPlainObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** Decodes a tenant document over the defaults; the error names the offending field. */
export const decodeSettings = (defaults: unknown, doc: unknown) =>
  Schema.decodeUnknownEither(TenantSettings, { onExcessProperty: "error", errors: "all" })(deepMerge(defaults, doc))
