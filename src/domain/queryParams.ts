import { Clock, Effect, Option, ParseResult, Schema } from "effect"
import { GenaiGroupBy } from "./genaiViews.ts"
import { excerpt } from "./issues.ts"

// Query-string parameters of the read endpoints, decoded by the HttpApi (src/api/Api.ts) before a handler
// runs: a bad value is a 400 naming the parameter (src/api/paramErrors.ts), the OpenAPI document lists
// each parameter with its description. An empty value (`?from=`) counts as absent, as the console sends none.

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 } as const

/** `10s`, `5m`, `1h`, `1d`, `2w` as seconds; undefined when the text is not such a duration. */
export const durationSeconds = (text: string): number | undefined => {
  const m = /^(\d{1,6})([smhdw])$/.exec(text.trim())
  if (m === null) return undefined
  const n = Number(m[1]) * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS]
  return n > 0 ? n : undefined
}

/** 9999-12-31T23:59:59.999Z: later times have no ISO-8601 form (and no timestamptz). */
const MAX_TIME_MS = 253_402_300_799_999

/** An ISO-8601 time, epoch milliseconds, `now` or `now-15m` as epoch milliseconds at `nowMs`, or why not. */
export const timeMs = (raw: string, nowMs: number): number | string => {
  const text = raw.trim()
  if (text === "now") return nowMs
  const rel = /^now-(.+)$/.exec(text)
  let ms: number
  if (rel !== null) {
    const s = durationSeconds(rel[1] ?? "")
    if (s === undefined) return `${excerpt(raw)} is not now-<n><s|m|h|d|w>`
    ms = nowMs - s * 1000
  } else {
    ms = /^\d{1,16}$/.test(text) ? Number(text) : Date.parse(text)
    if (!Number.isFinite(ms)) return `${excerpt(raw)} is not an ISO-8601 time, epoch milliseconds or now-<duration>`
  }
  return ms >= 0 && ms <= MAX_TIME_MS ? ms : `${excerpt(raw)} is outside 1970 to 9999`
}

/** An optional parameter, described for the OpenAPI document; its empty value is the same as its absence. */
const param = <A, R>(description: string, schema: Schema.Schema<A, string, R>) =>
  Schema.optionalToOptional(Schema.String.annotations({ description }), schema, { decode: Option.filter((s) => s.trim() !== ""), encode: (o) => o })

/** A time as epoch milliseconds; `now` is the clock's when the request is decoded. */
export const TimeParam = Schema.transformOrFail(Schema.String, Schema.Number, {
    strict: true,
    decode: (raw, _, ast) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const ms = timeMs(raw, now)
        return typeof ms === "number" ? ParseResult.succeed(ms) : ParseResult.fail(new ParseResult.Type(ast, raw, ms))
      }),
    encode: (ms) => ParseResult.succeed(String(ms))
  })

/** An integer within [min, max]. */
export const IntParam = (min: number, max: number) =>
  Schema.transformOrFail(Schema.String, Schema.Int, {
    strict: true,
    decode: (raw, _, ast) => {
      const n = Number(raw)
      return Number.isInteger(n) && n >= min && n <= max ? ParseResult.succeed(n) : ParseResult.fail(new ParseResult.Type(ast, raw, `must be an integer between ${min} and ${max}`))
    },
    encode: (n) => ParseResult.succeed(String(n))
  })

export const NumberParam = Schema.transformOrFail(Schema.String, Schema.Number, {
    strict: true,
    decode: (raw, _, ast) => {
      const n = Number(raw)
      return Number.isFinite(n) ? ParseResult.succeed(n) : ParseResult.fail(new ParseResult.Type(ast, raw, `${excerpt(raw)} is not a number`))
    },
    encode: (n) => ParseResult.succeed(String(n))
  })

/** One of `values`. */
export const ChoiceParam = <const A extends ReadonlyArray<string>>(values: A) =>
  Schema.transformOrFail(Schema.String, Schema.Literal(...values), {
    strict: true,
    decode: (raw, _, ast) =>
      values.includes(raw) ? ParseResult.succeed(raw as A[number]) : ParseResult.fail(new ParseResult.Type(ast, raw, `${excerpt(raw)} is not one of ${values.join(", ")}`)),
    encode: ParseResult.succeed
  })

/** One of `values` or a comma-separated list of them. */
export const ChoicesParam = <const A extends ReadonlyArray<string>>(values: A) =>
  Schema.transformOrFail(Schema.String, Schema.Array(Schema.Literal(...values)), {
    strict: true,
    decode: (raw, _, ast) => {
      const parts = raw.split(",").map((s) => s.trim()).filter((s) => s !== "")
      const wrong = parts.filter((p) => !values.includes(p))
      return wrong.length === 0
        ? ParseResult.succeed(parts as Array<A[number]>)
        : ParseResult.fail(new ParseResult.Type(ast, raw, `unknown value(s) ${wrong.slice(0, 5).map((w) => excerpt(w)).join(", ")}; expected ${values.join(", ")}`))
    },
    encode: (list) => ParseResult.succeed(list.join(","))
  })

/** A keyword (`auto`, `raw`) or a duration in seconds such as 10s, 1m, 1h. */
const BucketParam = <const K extends ReadonlyArray<"auto" | "raw">>(keywords: K) =>
  Schema.transformOrFail(Schema.String, Schema.Union(Schema.Literal(...keywords), Schema.Number), {
    strict: true,
    decode: (raw, _, ast) => {
      if ((keywords as ReadonlyArray<string>).includes(raw)) return ParseResult.succeed(raw as K[number])
      const s = durationSeconds(raw)
      return s !== undefined
        ? ParseResult.succeed(s)
        : ParseResult.fail(new ParseResult.Type(ast, raw, `${excerpt(raw)} is not ${keywords.join(", ")} or a duration such as ${keywords.includes("raw") ? "10s, " : ""}1m, 5m, 1h`))
    },
    encode: (b) => ParseResult.succeed(String(b))
  })

const TIME = "ISO-8601, epoch milliseconds, now or now-<n><s|m|h|d|w>"
const HOUR = 3_600_000

/**
 * `fields` with `from` and `to`, decoded as `fromMs`/`toMs`: `to` defaults to now, `from` to `to` − `defaultSpanMs`;
 * an empty or reversed range is refused on `from`.
 */
const withRange = <F extends Schema.Struct.Fields>(fields: F, defaultSpanMs: number) => {
  const encoded = Schema.Struct({
    ...fields,
    from: param(`${TIME}; default to − ${defaultSpanMs / HOUR}h`, TimeParam),
    to: param(`${TIME}; default now`, TimeParam)
  })
  const decoded = Schema.extend(Schema.typeSchema(Schema.Struct(fields)), Schema.Struct({ fromMs: Schema.Number, toMs: Schema.Number }))
  return Schema.transformOrFail(encoded, decoded, {
    strict: true,
    decode: (input, _, ast) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const { from, to, ...rest } = input as { readonly from?: number; readonly to?: number }
        const toMs = to ?? now
        const fromMs = from ?? toMs - defaultSpanMs
        return fromMs < toMs
          ? ParseResult.succeed({ ...rest, fromMs, toMs } as typeof decoded.Encoded)
          : ParseResult.fail(new ParseResult.Pointer("from", input, new ParseResult.Type(ast, from, "must be before to")))
      }),
    encode: (output) => {
      const { fromMs, toMs, ...rest } = output as { readonly fromMs: number; readonly toMs: number }
      return ParseResult.succeed({ ...rest, from: fromMs, to: toMs } as unknown as typeof encoded.Type)
    }
  })
}

const required = (description: string) =>
  Schema.propertySignature(Schema.String.pipe(Schema.minLength(1)).annotations({ description, message: () => "is required" })).annotations({ missingMessage: () => "is required" })
const name = required("metric name (required)")
const opt = (description: string) => param(description, Schema.String)

export const SERIES_AGGS = ["avg", "min", "max", "sum", "count", "p95"] as const
export const ALERT_STATES = ["open", "acknowledged", "resolved"] as const
export const EXECUTION_STATUSES = ["active", "paused", "completed", "failed", "cancelled", "timed_out"] as const

export const SeriesParams = withRange({
  name,
  bucket: param("auto (default), raw, or a duration such as 10s, 1m, 5m, 1h, 1d", BucketParam(["auto", "raw"])),
  agg: param("avg (default), min, max, sum, count or p95", ChoiceParam(SERIES_AGGS)),
  groupBy: param("service: one series per service", ChoiceParam(["service", "none"])),
  service: opt("only this service"),
  source: param("auto (default) or raw: compute from raw points whatever the bucket", ChoiceParam(["auto", "raw"]))
}, HOUR)

export const ServicesParams = withRange({}, HOUR)

export const SearchParams = Schema.Struct({
  service: opt("service name"),
  operation: opt("operation name"),
  status: param(`status or comma-separated statuses (${EXECUTION_STATUSES.join(", ")})`, ChoicesParam(EXECUTION_STATUSES)),
  minDurationMs: param("at least this duration", NumberParam),
  maxDurationMs: param("at most this duration", NumberParam),
  from: param(`start time at or after (${TIME}); default to − 24h`, TimeParam),
  to: param(`start time before (${TIME})`, TimeParam),
  limit: param("page size, 1-500, default 50", IntParam(1, 500)),
  cursor: opt("nextCursor of the previous page")
}).annotations({ description: "attr.KEY=VALUE (repeatable) filters on metadata, customAttributes and object tags" })

export const AnomalyParams = withRange({
  severity: param("warning, critical, or both comma-separated", ChoicesParam(["warning", "critical"])),
  metric: opt("metric name"),
  service: opt("service name"),
  limit: param("1-1000, default 200", IntParam(1, 1000))
}, 24 * HOUR)

export const AlertParams = Schema.Struct({
  state: param("open, acknowledged, resolved, or a comma-separated list; default all", ChoicesParam(ALERT_STATES)),
  limit: param("1-1000, default 200", IntParam(1, 1000))
})

export const MetricNamesParams = withRange({}, 24 * HOUR)

export const MetricWindowsParams = withRange({
  name,
  service: opt("only this service"),
  operation: opt("only this operation (span-derived series)"),
  limit: param("windows per request, 1-20000, default 5000", IntParam(1, 20_000))
}, HOUR)

export const GraphParams = withRange({}, HOUR)

export const TimelineParams = withRange({
  bucket: param("auto (default) or a duration of whole minutes such as 1m, 5m, 1h", BucketParam(["auto"]))
}, HOUR)

export const GenaiUsageParams = withRange({
  groupBy: param("model (default), agent, tool, service, user or conversation", ChoiceParam(GenaiGroupBy.literals)),
  bucket: param("unset: totals only; auto or a duration such as 1m, 1h: each group also as a series", BucketParam(["auto"]))
}, 24 * HOUR)

export const FailedJobsParams = Schema.Struct({
  state: Schema.propertySignature(ChoiceParam(["failed"]).annotations({ description: "failed (required): the tenant's dead-lettered jobs" }))
    .annotations({ missingMessage: () => "is required: state=failed lists the dead-lettered jobs" }),
  limit: param("1-1000, default 100", IntParam(1, 1000))
})
