import { Effect } from "effect"
import type { Queryable } from "../db/Db.ts"
import type { GenaiGroupBy, GenaiUsageView } from "../domain/genaiViews.ts"
import { histogramOfRow, LE_COLUMNS, mergeHistograms, quantileFromHistogram } from "../domain/histogram.ts"
import type { DurationHistogram } from "../domain/histogram.ts"
import { badParam, formatDuration } from "./params.ts"
import { hourlyOnlyRowsSql } from "../db/genaiUsageRows.ts"
import { fitsAutoTarget } from "./series.ts"

// GET /api/genai/usage: calls, errors, tokens, cost and unpriced tokens per model, agent, tool, service,
// user or conversation, optionally as a series; from the continuous aggregates genai_usage_1m / _1h
// (migrations/0012_genai_usage_narrow_minutes.sql), like the metric series; user and conversation, which
// the per-minute one does not hold, from the hourly one and the spans of the partial hours. p50/p95 from the merged le_* buckets.

export const GENAI_GROUP_BY: ReadonlyArray<GenaiGroupBy> = ["model", "agent", "tool", "service", "user", "conversation"]

const KEY_COLUMN: Record<GenaiGroupBy, string> = {
  model: "model", agent: "agent", tool: "tool", service: "service_name", user: "user_id", conversation: "conversation"
}
/**
 * Calls and errors count the group's own kind of span: model calls per model, tool calls per tool,
 * agent invocations per agent, model (LLM) calls per service, user and conversation. Tokens and cost
 * count every span of the group.
 */
const CALL_KIND: Record<GenaiGroupBy, string> = { model: "model", agent: "agent", tool: "tool", service: "model", user: "model", conversation: "model" }

export const MAX_GROUPS = 200
const AUTO_LADDER = [60, 300, 900, 3600, 21_600, 86_400, 604_800] as const
const AUTO_TARGET = 120
const MAX_BUCKETS = 2000
/** Totals over a longer range read the hourly aggregate. */
const MINUTE_SOURCE_MAX_MS = 7 * 86_400_000

export interface UsagePlan {
  readonly source: "genai_usage_1m" | "genai_usage_1h"
  readonly bucketSeconds: number | null
  readonly fromMs: number
  readonly toMs: number
}

/** Groupings the per-minute aggregate does not hold (migrations/0012_genai_usage_narrow_minutes.sql): hours, and spans for the rest. */
const HOURLY_ONLY: ReadonlySet<GenaiGroupBy> = new Set(["user", "conversation"])
const HOUR_MS = 3_600_000

/**
 * Where the rows of a plan come from for `groupBy`: its aggregate; for a grouping only the hourly one holds,
 * the whole hours of the range from it and the rest (the partial hours at the edges, or everything for a
 * series finer than an hour) from the spans themselves. `hours`: [from, to) read from genai_usage_1h
 * (empty when from >= to); the spans are read over [fromMs, toMs) outside it.
 */
export const usageSources = (groupBy: GenaiGroupBy, plan: UsagePlan): { readonly source: string; readonly hours: readonly [number, number] | null } => {
  if (!HOURLY_ONLY.has(groupBy)) return { source: plan.source, hours: null }
  const fine = plan.bucketSeconds !== null && plan.bucketSeconds % 3600 !== 0
  const from = Math.ceil(plan.fromMs / HOUR_MS) * HOUR_MS
  const to = Math.floor(plan.toMs / HOUR_MS) * HOUR_MS
  if (fine || from >= to) return { source: "spans", hours: [0, 0] }
  return { source: from === plan.fromMs && to === plan.toMs ? "genai_usage_1h" : "genai_usage_1h+spans", hours: [from, to] }
}

/** Span columns as one aggregate row each, in the aggregates' column names (migrations/0012_genai_usage_narrow_minutes.sql). */
/** Which aggregate, which bucket, the range widened to whole buckets; a message (for a 400 on `bucket`) when it cannot be served. */
export const planUsage = (fromMs: number, toMs: number, bucket: "auto" | number | null): UsagePlan | string => {
  const rangeS = (toMs - fromMs) / 1000
  const size = bucket === null ? null : bucket === "auto" ? AUTO_LADDER.find((s) => fitsAutoTarget(rangeS, s, AUTO_TARGET)) ?? 604_800 : bucket
  if (size !== null && size % 60 !== 0) return `${formatDuration(size)} is finer than the 1-minute aggregate: use whole minutes (1m, 5m, 1h)`
  if (size !== null && rangeS / size > MAX_BUCKETS) return `bucket ${formatDuration(size)} gives ${Math.ceil(rangeS / size)} buckets over this range (at most ${MAX_BUCKETS})`
  const hourly = size === null ? toMs - fromMs > MINUTE_SOURCE_MAX_MS : size % 3600 === 0
  const unit = (hourly ? 3600 : 60) * 1000
  const align = Math.max(unit, (size ?? 0) * 1000)
  return {
    source: hourly ? "genai_usage_1h" : "genai_usage_1m",
    bucketSeconds: size,
    fromMs: Math.floor(fromMs / align) * align,
    toMs: Math.ceil(toMs / align) * align
  }
}

type Row = {
  key: string; t: number | null; calls: number; errors: number; input_tokens: number; output_tokens: number; cache_read_tokens: number
  cache_write_tokens: number; cost_usd: number; unpriced_tokens: number; dmin: number | null; dmax: number | null
  [le: string]: number | string | null
}

interface Stats {
  calls: number; errors: number; inputTokens: number; outputTokens: number; cacheReadTokens: number; cacheWriteTokens: number; costUsd: number; unpricedTokens: number
}
const statsOf = (r: Row): Stats => ({
  calls: Number(r.calls ?? 0), errors: Number(r.errors ?? 0), inputTokens: Number(r.input_tokens), outputTokens: Number(r.output_tokens),
  cacheReadTokens: Number(r.cache_read_tokens), cacheWriteTokens: Number(r.cache_write_tokens), costUsd: Number(r.cost_usd), unpricedTokens: Number(r.unpriced_tokens)
})
const add = (a: Stats, b: Stats): Stats => ({
  calls: a.calls + b.calls, errors: a.errors + b.errors, inputTokens: a.inputTokens + b.inputTokens, outputTokens: a.outputTokens + b.outputTokens,
  cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens, cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens, costUsd: a.costUsd + b.costUsd,
  unpricedTokens: a.unpricedTokens + b.unpricedTokens
})
const ZERO: Stats = { calls: 0, errors: 0, inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd: 0, unpricedTokens: 0 }

/** The SQL of a plan: one row per group (and bucket, for a series). `$4` is the kind whose calls count. */
export const usageSql = (groupBy: GenaiGroupBy, plan: UsagePlan) => {
  const key = KEY_COLUMN[groupBy]
  const { hours } = usageSources(groupBy, plan)
  const from = hours === null ? `${plan.source}
          WHERE tenant_id = $1 AND bucket >= to_timestamp($2 / 1000.0) AND bucket < to_timestamp($3 / 1000.0) AND ${key} <> ''`
    : `(${hourlyOnlyRowsSql(hours)}) u WHERE ${key} <> ''`
  const t = plan.bucketSeconds === null ? "NULL::float8" : `(extract(epoch FROM time_bucket(make_interval(secs => ${plan.bucketSeconds}), bucket, to_timestamp(0))) * 1000)::float8`
  const own = "FILTER (WHERE kind = $4)"
  return `SELECT ${key} AS key, ${t} AS t,
            (sum(calls) ${own})::float8 AS calls, (sum(errors) ${own})::float8 AS errors,
            sum(input_tokens)::float8 AS input_tokens, sum(output_tokens)::float8 AS output_tokens, sum(cache_read_tokens)::float8 AS cache_read_tokens,
            sum(cache_write_tokens)::float8 AS cache_write_tokens, sum(cost_usd)::float8 AS cost_usd, sum(unpriced_tokens)::float8 AS unpriced_tokens,
            min(duration_min) ${own} AS dmin, max(duration_max) ${own} AS dmax,
            ${LE_COLUMNS.map((c) => `(sum(${c}) ${own})::float8 AS ${c}`).join(", ")}
          FROM ${from}
          GROUP BY 1, 2 ORDER BY 1, 2`
}

export const queryGenaiUsage = (q: Queryable, tenantId: string, req: { fromMs: number; toMs: number; groupBy: GenaiGroupBy; bucket: "auto" | number | null }) =>
  Effect.gen(function* () {
    const plan = planUsage(req.fromMs, req.toMs, req.bucket)
    if (typeof plan === "string") return yield* badParam("bucket", plan)
    const rows = yield* q.query<Row>(usageSql(req.groupBy, plan), [tenantId, plan.fromMs, plan.toMs, CALL_KIND[req.groupBy]])
    const groups = new Map<string, { stats: Stats; hists: Array<DurationHistogram>; series: Array<{ time: string } & Stats> }>()
    for (const r of rows) {
      const g = groups.get(r.key) ?? { stats: ZERO, hists: [], series: [] }
      groups.set(r.key, g)
      const s = statsOf(r)
      g.stats = add(g.stats, s)
      if (s.calls > 0) g.hists.push(histogramOfRow(r))
      if (plan.bucketSeconds !== null && r.t !== null) g.series.push({ time: new Date(Number(r.t)).toISOString(), ...s })
    }
    const out = [...groups]
      .map(([key, g]) => {
        const h = g.hists.length === 0 ? null : mergeHistograms(g.hists)
        return {
          key, ...g.stats,
          p50Ms: h === null ? null : quantileFromHistogram(h, 0.5),
          p95Ms: h === null ? null : quantileFromHistogram(h, 0.95),
          ...(plan.bucketSeconds === null ? {} : { series: g.series })
        }
      })
      .sort((a, b) => b.costUsd - a.costUsd || b.inputTokens + b.outputTokens - (a.inputTokens + a.outputTokens) || b.calls - a.calls || (a.key < b.key ? -1 : 1))
      .slice(0, MAX_GROUPS)
    return {
      from: new Date(plan.fromMs).toISOString(),
      to: new Date(plan.toMs).toISOString(),
      groupBy: req.groupBy,
      bucketSeconds: plan.bucketSeconds,
      source: usageSources(req.groupBy, plan).source,
      groups: out
    } satisfies GenaiUsageView
  }).pipe(Effect.withSpan("Genai.usage"))

