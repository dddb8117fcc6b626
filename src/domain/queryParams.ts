import { Schema } from "effect"

// Query-string parameters of the read endpoints, as strings: src/query/params.ts parses them so every
// bad value is a 400 naming the parameter.

const P = (description: string) => Schema.optional(Schema.String.annotations({ description }))
const TIME = "ISO-8601, epoch milliseconds, now or now-<n><s|m|h|d|w>"

export const SeriesParams = Schema.Struct({
  name: P("metric name (required)"),
  from: P(`${TIME}; default to − 1h`),
  to: P(`${TIME}; default now`),
  bucket: P("auto (default), raw, or a duration such as 10s, 1m, 5m, 1h, 1d"),
  agg: P("avg (default), min, max, sum, count or p95"),
  groupBy: P("service: one series per service"),
  service: P("only this service"),
  source: P("auto (default) or raw: compute from raw points whatever the bucket")
})

export const ServicesParams = Schema.Struct({
  from: P(`${TIME}; default to − 1h`),
  to: P(`${TIME}; default now`)
})

export const SearchParams = Schema.Struct({
  service: P("service name"),
  operation: P("operation name"),
  status: P("status or comma-separated statuses (active, paused, completed, failed, cancelled, timed_out)"),
  minDurationMs: P("at least this duration"),
  maxDurationMs: P("at most this duration"),
  from: P(`start time at or after (${TIME})`),
  to: P(`start time before (${TIME})`),
  limit: P("page size, 1-500, default 50"),
  cursor: P("nextCursor of the previous page")
}).annotations({ description: "attr.KEY=VALUE (repeatable) filters on metadata, customAttributes and object tags" })

export const AnomalyParams = Schema.Struct({
  from: P(`${TIME}; default to − 24h`),
  to: P(`${TIME}; default now`),
  severity: P("warning, critical, or both comma-separated"),
  metric: P("metric name"),
  service: P("service name"),
  limit: P("1-1000, default 200")
})

export const AlertParams = Schema.Struct({
  state: P("open, acknowledged, resolved, or a comma-separated list; default all"),
  limit: P("1-1000, default 200")
})

export const MetricNamesParams = Schema.Struct({
  from: P(`${TIME}; default to − 24h`),
  to: P(`${TIME}; default now`)
})

export const MetricWindowsParams = Schema.Struct({
  name: P("metric name (required)"),
  service: P("only this service"),
  operation: P("only this operation (span-derived series)"),
  from: P(`${TIME}; default to − 1h`),
  to: P(`${TIME}; default now`),
  limit: P("windows per request, 1-20000, default 5000")
})

export const GraphParams = Schema.Struct({
  from: P(`${TIME}; default to − 1h`),
  to: P(`${TIME}; default now`)
})

export const TimelineParams = Schema.Struct({
  from: P(`${TIME}; default to − 1h`),
  to: P(`${TIME}; default now`),
  bucket: P("auto (default) or a duration of whole minutes such as 1m, 5m, 1h")
})

export const GenaiUsageParams = Schema.Struct({
  from: P(`${TIME}; default to − 24h`),
  to: P(`${TIME}; default now`),
  groupBy: P("model (default), agent, tool, service, user or conversation"),
  bucket: P("unset: totals only; auto or a duration such as 1m, 1h: each group also as a series")
})
