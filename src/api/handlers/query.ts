import { HttpApiBuilder } from "@effect/platform"
import { Effect, Either, Option } from "effect"
import { AppConfig } from "../../config/AppConfig.ts"
import { ReadDb } from "../../db/ReadDb.ts"
import { excerpt } from "../../domain/issues.ts"
import type { MetricWindowsParams, SearchParams, SeriesParams, TimelineParams } from "../../domain/queryParams.ts"
import { queryAnomalies } from "../../query/anomalies.ts"
import { queryMetricNames } from "../../query/metricNames.ts"
import { badParam, durationSeconds, parseChoice, parseChoices, parseIntParam, parseNumberParam, parseRange, parseTime } from "../../query/params.ts"
import { decodeCursor, searchExecutions } from "../../query/search.ts"
import { planSeries, querySeries, SERIES_AGGS } from "../../query/series.ts"
import type { BucketSpec, SeriesRequest } from "../../query/series.ts"
import { queryServiceGraph } from "../../query/serviceGraph.ts"
import { queryServices } from "../../query/services.ts"
import { planTimeline, queryIngestRate, queryServicesTimeline } from "../../query/timeline.ts"
import { queryWindows } from "../../query/windows.ts"
import { TenantStore } from "../../tenants/TenantStore.ts"
import { MplpApi } from "../Api.ts"
import { requireScope } from "../auth.ts"
import { dbUnavailable } from "../body.ts"

const HOUR = 3_600_000
const STATUSES = ["active", "paused", "completed", "failed", "cancelled", "timed_out"] as const
const MAX_ATTR_FILTERS = 10
const SEARCH_DEFAULT_SPAN_MS = 24 * HOUR

const parseBucket = (raw: string | undefined) => {
  if (raw === undefined || raw === "" || raw === "auto") return Effect.succeed<BucketSpec>({ _tag: "auto" })
  if (raw === "raw") return Effect.succeed<BucketSpec>({ _tag: "raw" })
  const seconds = durationSeconds(raw)
  return seconds === undefined
    ? Effect.fail(badParam("bucket", `${excerpt(raw)} is not auto, raw or a duration such as 10s, 1m, 5m, 1h, 1d`))
    : Effect.succeed<BucketSpec>({ _tag: "size", seconds })
}

const seriesRequest = (p: typeof SeriesParams.Type, nowMs: number) =>
  Effect.gen(function* () {
    if (p.name === undefined || p.name === "") return yield* badParam("name", "the metric name is required")
    const range = yield* parseRange(p.from, p.to, nowMs, HOUR)
    return {
      name: p.name,
      ...range,
      bucket: yield* parseBucket(p.bucket),
      agg: yield* parseChoice("agg", p.agg, SERIES_AGGS, "avg"),
      groupBy: (yield* parseChoice("groupBy", p.groupBy, ["service", "none"] as const, "none")) === "service" ? "service" as const : null,
      service: p.service === undefined || p.service === "" ? null : p.service,
      source: yield* parseChoice("source", p.source, ["auto", "raw"] as const, "auto")
    }
  })

/** Raw points cost a row each: a query that reads them (bucket=raw, source=raw, sub-minute buckets) spans at most `maxHours`. */
const limitRawRange = (req: SeriesRequest, maxHours: number) => {
  const plan = planSeries(req)
  const hours = (req.toMs - req.fromMs) / HOUR
  return Either.isRight(plan) && plan.right.source === "metric_points" && hours > maxHours
    ? Effect.fail(badParam("from", `a query of raw points (bucket=raw, source=raw or a bucket under 1m) spans at most ${maxHours} h (MPLP_MAX_RAW_RANGE_HOURS); this one spans ${Math.ceil(hours)} h: narrow the range or use a bucket of 1m or more`))
    : Effect.void
}

/** `attr.KEY=VALUE` pairs of the query string (the key is everything after `attr.`, dots included). */
const attributeFilters = (url: string) => {
  const pairs = [...new URL(url, "http://localhost").searchParams]
    .filter(([k]) => k.startsWith("attr.") && k.length > 5)
    .map(([k, v]) => [k.slice(5), v] as const)
  return pairs.length > MAX_ATTR_FILTERS ? Effect.fail(badParam("attr", `at most ${MAX_ATTR_FILTERS} attr.KEY filters`)) : Effect.succeed(pairs)
}

const searchRequest = (p: typeof SearchParams.Type, url: string, nowMs: number) =>
  Effect.gen(function* () {
    const cursor = p.cursor === undefined || p.cursor === "" ? Option.none() : Option.some(p.cursor)
    const decoded = Option.map(cursor, decodeCursor)
    if (Option.isSome(decoded) && Option.isNone(decoded.value)) return yield* badParam("cursor", "not a cursor this endpoint returned")
    const toMs = p.to === undefined || p.to === "" ? null : yield* parseTime("to", p.to, nowMs, nowMs)
    // Without `from`, the last 24 h (before `to`): an unbounded search reads every execution of the tenant.
    const fromMs = yield* parseTime("from", p.from, nowMs, (toMs ?? nowMs) - SEARCH_DEFAULT_SPAN_MS)
    return {
      service: p.service === undefined || p.service === "" ? null : p.service,
      operation: p.operation === undefined || p.operation === "" ? null : p.operation,
      statuses: yield* parseChoices("status", p.status, STATUSES),
      minDurationMs: yield* parseNumberParam("minDurationMs", p.minDurationMs),
      maxDurationMs: yield* parseNumberParam("maxDurationMs", p.maxDurationMs),
      fromMs,
      toMs,
      attributes: yield* attributeFilters(url),
      limit: yield* parseIntParam("limit", p.limit, 50, 1, 500),
      cursor: Option.isSome(decoded) ? Option.getOrNull(decoded.value) : null
    }
  })

const optional = (raw: string | undefined) => (raw === undefined || raw === "" ? null : raw)

const windowsRequest = (p: typeof MetricWindowsParams.Type, nowMs: number) =>
  Effect.gen(function* () {
    if (p.name === undefined || p.name === "") return yield* badParam("name", "the metric name is required")
    const range = yield* parseRange(p.from, p.to, nowMs, HOUR)
    return { name: p.name, service: optional(p.service), operation: optional(p.operation), ...range, limit: yield* parseIntParam("limit", p.limit, 5000, 1, 20_000) }
  })

const timelinePlan = (p: typeof TimelineParams.Type, nowMs: number) =>
  Effect.gen(function* () {
    const range = yield* parseRange(p.from, p.to, nowMs, HOUR)
    let seconds: number | null = null
    if (p.bucket !== undefined && p.bucket !== "" && p.bucket !== "auto") {
      const s = durationSeconds(p.bucket)
      if (s === undefined) return yield* badParam("bucket", `"${p.bucket}" is not auto or a duration such as 1m, 5m, 1h`)
      seconds = s
    }
    return yield* Either.match(planTimeline(range.fromMs, range.toMs, seconds), { onLeft: (m) => Effect.fail(badParam("bucket", m)), onRight: Effect.succeed })
  })

export const QueryLive = HttpApiBuilder.group(MplpApi, "query", (handlers) =>
  Effect.gen(function* () {
    // Every statement here only reads: the replica when DATABASE_READ_URL is set (settings come from the primary).
    const db = yield* ReadDb
    const store = yield* TenantStore
    const { maxRawRangeHours } = yield* AppConfig
    return handlers
      .handle("series", ({ urlParams }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("query")
          const req = yield* seriesRequest(urlParams, Date.now())
          yield* limitRawRange(req, maxRawRangeHours)
          return yield* querySeries(db, p.tenantId, req)
        }).pipe(dbUnavailable)
      )
      .handle("services", ({ urlParams }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("query")
          const range = yield* parseRange(urlParams.from, urlParams.to, Date.now(), HOUR)
          return yield* queryServices(db, p.tenantId, range.fromMs, range.toMs)
        }).pipe(dbUnavailable)
      )
      .handle("search", ({ urlParams, request }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("query")
          const req = yield* searchRequest(urlParams, request.url, Date.now())
          return yield* searchExecutions(db, p.tenantId, req)
        }).pipe(dbUnavailable)
      )
      .handle("anomalies", ({ urlParams }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("query")
          const range = yield* parseRange(urlParams.from, urlParams.to, Date.now(), 24 * HOUR)
          return yield* queryAnomalies(db, p.tenantId, {
            ...range,
            severities: yield* parseChoices("severity", urlParams.severity, ["warning", "critical"] as const),
            metric: urlParams.metric === undefined || urlParams.metric === "" ? null : urlParams.metric,
            service: urlParams.service === undefined || urlParams.service === "" ? null : urlParams.service,
            limit: yield* parseIntParam("limit", urlParams.limit, 200, 1, 1000)
          })
        }).pipe(dbUnavailable)
      )
      .handle("metricNames", ({ urlParams }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("query")
          const range = yield* parseRange(urlParams.from, urlParams.to, Date.now(), 24 * HOUR)
          return yield* queryMetricNames(db, p.tenantId, range.fromMs, range.toMs)
        }).pipe(dbUnavailable)
      )
      .handle("metricWindows", ({ urlParams }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("query")
          const req = yield* windowsRequest(urlParams, Date.now())
          const settings = yield* store.getSettings(p.tenantId).pipe(Effect.orDie)
          return yield* queryWindows(db, p.tenantId, req, settings.detector)
        }).pipe(dbUnavailable)
      )
      .handle("serviceGraph", ({ urlParams }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("query")
          const range = yield* parseRange(urlParams.from, urlParams.to, Date.now(), HOUR)
          return yield* queryServiceGraph(db, p.tenantId, range.fromMs, range.toMs)
        }).pipe(dbUnavailable)
      )
      .handle("servicesTimeline", ({ urlParams }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("query")
          return yield* queryServicesTimeline(db, p.tenantId, yield* timelinePlan(urlParams, Date.now()))
        }).pipe(dbUnavailable)
      )
      .handle("ingestRate", ({ urlParams }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("query")
          return yield* queryIngestRate(db, p.tenantId, yield* timelinePlan(urlParams, Date.now()))
        }).pipe(dbUnavailable)
      )
  })
)
