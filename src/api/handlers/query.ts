import { HttpApiBuilder } from "@effect/platform"
import { Effect, Either, Option } from "effect"
import { AppConfig } from "../../config/AppConfig.ts"
import { ReadDb } from "../../db/ReadDb.ts"
import type { SearchParams, SeriesParams, TimelineParams } from "../../domain/queryParams.ts"
import { queryAnomalies } from "../../query/anomalies.ts"
import { queryMetricNames } from "../../query/metricNames.ts"
import { badParam } from "../../query/params.ts"
import { decodeCursor, searchExecutions } from "../../query/search.ts"
import { planSeries, querySeries } from "../../query/series.ts"
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
const MAX_ATTR_FILTERS = 10
const SEARCH_DEFAULT_SPAN_MS = 24 * HOUR

const bucketSpec = (b: "auto" | "raw" | number | undefined): BucketSpec =>
  b === undefined || b === "auto" ? { _tag: "auto" } : b === "raw" ? { _tag: "raw" } : { _tag: "size", seconds: b }

const seriesRequest = (p: typeof SeriesParams.Type): SeriesRequest => ({
  name: p.name,
  fromMs: p.fromMs,
  toMs: p.toMs,
  bucket: bucketSpec(p.bucket),
  agg: p.agg ?? "avg",
  groupBy: p.groupBy === "service" ? "service" : null,
  service: p.service ?? null,
  source: p.source ?? "auto"
})

/** Raw points cost a row each: a query that reads them (bucket=raw, source=raw, sub-minute buckets) spans at most `maxHours`. */
const limitRawRange = (req: SeriesRequest, maxHours: number) => {
  const plan = planSeries(req)
  const hours = (req.toMs - req.fromMs) / HOUR
  // A minute of slack: `from=now-6h` and the default `to` (now) are read from the clock a moment apart,
  // so "the last 6 h" can come out a few milliseconds longer (more on a busy machine).
  return Either.isRight(plan) && plan.right.source === "metric_points" && req.toMs - req.fromMs > maxHours * HOUR + 60_000
    ? Effect.fail(badParam("from", `a query of raw points (bucket=raw, source=raw or a bucket under 1m) spans at most ${maxHours} h (MPLP_MAX_RAW_RANGE_HOURS); this one spans ${Math.ceil(hours)} h: narrow the range or use a bucket of 1m or more`))
    : Effect.void
}

/** `attr.KEY=VALUE` pairs of the query string (the key is everything after `attr.`, dots included): open-ended names no Schema field declares. */
const attributeFilters = (url: string) => {
  const pairs = [...new URL(url, "http://localhost").searchParams]
    .filter(([k]) => k.startsWith("attr.") && k.length > 5)
    .map(([k, v]) => [k.slice(5), v] as const)
  return pairs.length > MAX_ATTR_FILTERS ? Effect.fail(badParam("attr", `at most ${MAX_ATTR_FILTERS} attr.KEY filters`)) : Effect.succeed(pairs)
}

const searchRequest = (p: typeof SearchParams.Type, url: string, nowMs: number) =>
  Effect.gen(function* () {
    const decoded = Option.map(Option.fromNullable(p.cursor), decodeCursor)
    if (Option.isSome(decoded) && Option.isNone(decoded.value)) return yield* badParam("cursor", "not a cursor this endpoint returned")
    const toMs = p.to ?? null
    return {
      service: p.service ?? null,
      operation: p.operation ?? null,
      statuses: p.status ?? null,
      minDurationMs: p.minDurationMs ?? null,
      maxDurationMs: p.maxDurationMs ?? null,
      // Without `from`, the last 24 h (before `to`): an unbounded search reads every execution of the tenant.
      fromMs: p.from ?? (toMs ?? nowMs) - SEARCH_DEFAULT_SPAN_MS,
      toMs,
      attributes: yield* attributeFilters(url),
      limit: p.limit ?? 50,
      cursor: Option.isSome(decoded) ? Option.getOrNull(decoded.value) : null
    }
  })

const timelinePlan = (p: typeof TimelineParams.Type) =>
  Either.match(planTimeline(p.fromMs, p.toMs, p.bucket === undefined || p.bucket === "auto" ? null : p.bucket), {
    onLeft: (m) => Effect.fail(badParam("bucket", m)),
    onRight: Effect.succeed
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
          const req = seriesRequest(urlParams)
          yield* limitRawRange(req, maxRawRangeHours)
          return yield* querySeries(db, p.tenantId, req)
        }).pipe(dbUnavailable)
      )
      .handle("services", ({ urlParams }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("query")
          return yield* queryServices(db, p.tenantId, urlParams.fromMs, urlParams.toMs)
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
          return yield* queryAnomalies(db, p.tenantId, {
            fromMs: urlParams.fromMs,
            toMs: urlParams.toMs,
            severities: urlParams.severity ?? null,
            metric: urlParams.metric ?? null,
            service: urlParams.service ?? null,
            limit: urlParams.limit ?? 200
          })
        }).pipe(dbUnavailable)
      )
      .handle("metricNames", ({ urlParams }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("query")
          return yield* queryMetricNames(db, p.tenantId, urlParams.fromMs, urlParams.toMs)
        }).pipe(dbUnavailable)
      )
      .handle("metricWindows", ({ urlParams }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("query")
          const req = { name: urlParams.name, service: urlParams.service ?? null, operation: urlParams.operation ?? null, fromMs: urlParams.fromMs, toMs: urlParams.toMs, limit: urlParams.limit ?? 5000 }
          const settings = yield* store.getSettings(p.tenantId).pipe(Effect.orDie)
          return yield* queryWindows(db, p.tenantId, req, settings.detector)
        }).pipe(dbUnavailable)
      )
      .handle("serviceGraph", ({ urlParams }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("query")
          return yield* queryServiceGraph(db, p.tenantId, urlParams.fromMs, urlParams.toMs)
        }).pipe(dbUnavailable)
      )
      .handle("servicesTimeline", ({ urlParams }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("query")
          return yield* queryServicesTimeline(db, p.tenantId, yield* timelinePlan(urlParams))
        }).pipe(dbUnavailable)
      )
      .handle("ingestRate", ({ urlParams }) =>
        Effect.gen(function* () {
          const p = yield* requireScope("query")
          return yield* queryIngestRate(db, p.tenantId, yield* timelinePlan(urlParams))
        }).pipe(dbUnavailable)
      )
  })
)
