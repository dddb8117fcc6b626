import { Effect } from "effect"
import type { Queryable } from "../db/Db.ts"
import type { EvaluationMsg } from "../domain/pipeline.ts"
import { BUDGET_WINDOW_MS, matchesPattern } from "../domain/pricing.ts"
import type { Budget } from "../domain/pricing.ts"
import { messageOf } from "../domain/errors.ts"
import { hourlyOnlyRowsSql } from "../db/genaiUsageRows.ts"

// settings.budgets: rolling spending limits, evaluated as "budget" evaluations through the same alert
// policy as the detector's (open, escalate warning → critical, resolve) and the same channels
// (event budget_exceeded, then alert_resolved). Spending comes from genai_usage_1m (1h, 24h windows)
// or genai_usage_1h (30d), real-time aggregation included, late spending materialised first; per user or
// conversation, which only the hourly one holds, from its whole hours and the spans of the first, partial one.

const SCOPE_COLUMN: Record<Budget["scope"], string | null> = { tenant: null, agent: "agent", user: "user_id", model: "model", conversation: "conversation" }
/** Scopes the per-minute aggregate does not group by (migrations/0012_genai_usage_narrow_minutes.sql). */
const HOURLY_ONLY = (b: Budget) => b.scope === "user" || b.scope === "conversation"
const HOUR_MS = 3_600_000

/** The series key of one budget and the agent / user / model / conversation it counts. */
export const budgetSeriesKey = (b: Budget, key: string) => `budget|${b.id}|${key}`

export interface Spend { readonly key: string; readonly costUsd: number }

/** Pure: the evaluations of one budget for its spending; `active` are series keys with an open alert (they also get their "back under"). */
export const evaluateBudget = (b: Budget, spends: ReadonlyArray<Spend>, active: ReadonlySet<string>, nowMs: number): Array<EvaluationMsg> => {
  const relevant = b.scope === "tenant" ? spends : spends.filter((s) => s.key !== "" && (b.match === undefined || matchesPattern(b.match, s.key)))
  const out: Array<EvaluationMsg> = []
  const seen = new Set<string>()
  const push = (key: string, spent: number) => {
    const seriesKey = budgetSeriesKey(b, key)
    seen.add(seriesKey)
    const severity = spent >= b.limitUsd ? "critical" : spent >= b.warnAtRatio * b.limitUsd ? "warning" : "none"
    if (severity === "none" && !active.has(seriesKey)) return
    out.push({
      metricName: "genai.costUsd", serviceName: "", operation: b.scope === "tenant" ? `budget=${b.id}` : `budget=${b.id} ${b.scope}=${key}`,
      seriesKey, rule: "budget", severity, windowStartMs: nowMs - BUDGET_WINDOW_MS[b.window], windowEndMs: nowMs, value: spent,
      expected: null, sd: null, z: null, threshold: severity === "warning" ? b.warnAtRatio * b.limitUsd : b.limitUsd
    })
  }
  if (b.scope === "tenant") push("", relevant.reduce((n, s) => n + s.costUsd, 0))
  else {
    const byKey = new Map<string, number>()
    for (const s of relevant) byKey.set(s.key, (byKey.get(s.key) ?? 0) + s.costUsd)
    for (const [k, v] of byKey) push(k, v)
  }
  // An active alert whose key spent nothing in the window any more is back under too.
  for (const k of active) {
    if (!seen.has(k) && k.startsWith(`budget|${b.id}|`)) push(k.slice(`budget|${b.id}|`.length), 0)
  }
  return out
}

/**
 * Spending stored late, into minutes the aggregate had already materialised, is in no aggregate row until
 * those minutes are materialised again (the real-time part only covers what comes after the last one).
 * TimescaleDB logs such writes as invalidations; refreshing over the budgets' window recomputes exactly
 * the invalidated minutes (hours for 30d) and nothing when there are none, so a budget sees every
 * stored cost, not only after the next periodic refresh. A refresh cannot run in a transaction: `q` is
 * the database itself.
 */
const materialiseLateSpend = (q: Queryable, budgets: ReadonlyArray<Budget>, nowMs: number) =>
  Effect.gen(function* () {
    const longest = Math.max(...budgets.map((b) => BUDGET_WINDOW_MS[b.window]))
    const from = `to_timestamp(${Math.floor((nowMs - longest) / 1000) - 3600})`
    // The aggregate's own end offset (a minute): the minute being filled stays real-time, so spans arriving
    // in order never invalidate what this materialised.
    const to = `to_timestamp(${Math.floor(nowMs / 1000) - 60})`
    yield* q.query(`CALL refresh_continuous_aggregate('spans_1m', ${from}, ${to})`)
    if (budgets.some((b) => b.window === "30d" || HOURLY_ONLY(b))) yield* q.query(`CALL refresh_continuous_aggregate('genai_usage_1h', ${from}, ${to})`)
  }).pipe(
    // The budgets are still evaluated (late spending then counts from the next refresh, as before).
    Effect.catchAll((e) => Effect.logWarning(`budgets: late spending not materialised: ${messageOf(e)}`)),
    Effect.withSpan("Budgets.materialiseLateSpend")
  )

/** Evaluations of every budget of the tenant, now. The policy orders evaluations by windowStartMs, so each carries `now` there. */
export const evaluateBudgets = (q: Queryable, tenantId: string, budgets: ReadonlyArray<Budget>, nowMs: number) =>
  Effect.gen(function* () {
    if (budgets.length === 0) return []
    const activeRows = yield* q.query<{ series_key: string }>(
      "SELECT series_key FROM alert_policy_state WHERE tenant_id = $1 AND rule = 'budget' AND state ->> 'status' <> 'ok'", [tenantId]
    )
    const active = new Set(activeRows.map((r) => r.series_key))
    yield* materialiseLateSpend(q, budgets, nowMs)
    const out: Array<EvaluationMsg> = []
    for (const b of budgets) {
      const windowMs = BUDGET_WINDOW_MS[b.window]
      const col = SCOPE_COLUMN[b.scope]
      const fromMs = nowMs - windowMs
      const firstHour = Math.ceil(fromMs / HOUR_MS) * HOUR_MS
      // 1h and 24h per user or conversation: the hours from the first whole one on, and the spans before it.
      const source = b.window === "30d" ? "genai_usage_1h"
        : HOURLY_ONLY(b) ? `(${hourlyOnlyRowsSql([firstHour, null])}) u`
        : "genai_usage_1m"
      const rows = yield* q.query<{ key: string; cost: number }>(
        `SELECT ${col ?? "''::text"} AS key, sum(cost_usd)::float8 AS cost FROM ${source}
         WHERE ${source === "genai_usage_1m" || source === "genai_usage_1h" ? "tenant_id = $1" : "true"} AND bucket >= to_timestamp($2 / 1000.0) GROUP BY 1 LIMIT 10000`,
        HOURLY_ONLY(b) && b.window !== "30d" ? [tenantId, fromMs, firstHour] : [tenantId, fromMs]
      )
      // The policy ignores an evaluation not later than the previous one: each budget gets its own millisecond.
      out.push(...evaluateBudget(b, rows.map((r) => ({ key: r.key, costUsd: Number(r.cost) })), active, nowMs).map((e) => ({ ...e, windowStartMs: nowMs })))
    }
    return out
  }).pipe(Effect.withSpan("Budgets.evaluate"))
