// Numbers with units, durations in ms/s/min, times in the viewer's local zone with its UTC offset.
// Pure: the zone is a parameter (minutes east of UTC) so tests do not depend on the machine's.

import { formatDuration } from "../../../src/domain/duration.ts"
import { formatUsd } from "../../../src/domain/money.ts"

export { formatDuration, formatUsd }

export const localOffsetMinutes = (ms: number = Date.now()): number => -new Date(ms).getTimezoneOffset()

const pad = (n: number, w = 2) => String(Math.trunc(Math.abs(n))).padStart(w, "0")

/** "UTC+01:00", "UTC-05:30", "UTC". */
export const formatOffset = (offsetMinutes: number): string =>
  offsetMinutes === 0 ? "UTC" : `UTC${offsetMinutes > 0 ? "+" : "-"}${pad(Math.abs(offsetMinutes) / 60)}:${pad(Math.abs(offsetMinutes) % 60)}`

const shifted = (ms: number, offsetMinutes: number) => new Date(ms + offsetMinutes * 60_000)

/** "2026-11-26 10:04:05" in the zone `offsetMinutes` east of UTC. */
export const formatLocal = (ms: number, offsetMinutes: number, withMs = false): string => {
  const d = shifted(ms, offsetMinutes)
  const date = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`
  const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${withMs ? `.${pad(d.getUTCMilliseconds(), 3)}` : ""}`
  return `${date} ${time}`
}

/** "2026-11-26 10:04:05 UTC+01:00": a time a reader can place in their zone and compare with logs. */
export const formatDateTime = (ms: number, offsetMinutes: number = localOffsetMinutes(ms), withMs = false): string =>
  `${formatLocal(ms, offsetMinutes, withMs)} ${formatOffset(offsetMinutes)}`

/** The time of day only ("10:04:05"), for rows whose date is shown elsewhere. */
export const formatClock = (ms: number, offsetMinutes: number = localOffsetMinutes(ms)): string => formatLocal(ms, offsetMinutes).slice(11)

/** "3 min ago", "2 h ago": for lists where recency matters more than the instant. */
export const formatAgo = (ms: number, now: number): string => {
  const s = Math.max(0, Math.round((now - ms) / 1000))
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`
  return `${Math.floor(s / 86_400)} d ago`
}

const trim = (s: string) => (s.includes(".") ? s.replace(/\.?0+$/, "") : s)

/** A count with thousands separators, or compact (12.3k, 4.5M) when `compact`. */
export const formatCount = (n: number | null | undefined, compact = false): string => {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–"
  const a = Math.abs(n)
  if (compact && a >= 1e6) return `${trim((n / 1e6).toFixed(1))}M`
  if (compact && a >= 1e4) return `${trim((n / 1e3).toFixed(1))}k`
  if (Number.isInteger(n)) return n.toLocaleString("en-US")
  return formatDecimal(n)
}

/** Three significant digits, without exponent for ordinary magnitudes. */
export const formatDecimal = (n: number): string => {
  if (!Number.isFinite(n)) return "–"
  const a = Math.abs(n)
  if (a === 0) return "0"
  if (a >= 1000) return Math.round(n).toLocaleString("en-US")
  if (a >= 100) return trim(n.toFixed(1))
  if (a >= 1) return trim(n.toFixed(2))
  if (a >= 0.001) return trim(n.toFixed(3))
  return n.toExponential(2)
}

/** A ratio (0.053) as a percentage ("5.3 %"). */
export const formatPercent = (ratio: number | null | undefined): string => {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return "–"
  const p = ratio * 100
  if (p === 0) return "0 %"
  if (Math.abs(p) < 0.1) return "< 0.1 %"
  return `${trim(p.toFixed(Math.abs(p) < 10 ? 1 : 0))} %`
}

/** Requests per second, or per minute / hour when fewer than one a… second / minute. */
export const formatRate = (perSecond: number | null | undefined, what = "req"): string => {
  if (perSecond === null || perSecond === undefined || !Number.isFinite(perSecond)) return "–"
  if (perSecond === 0 || perSecond >= 1) return `${formatDecimal(perSecond)} ${what}/s`
  if (perSecond * 60 >= 1) return `${formatDecimal(perSecond * 60)} ${what}/min`
  return `${formatDecimal(perSecond * 3600)} ${what}/h`
}

export const formatBytes = (b: number): string => {
  const a = Math.abs(b)
  if (a < 1024) return `${Math.round(b)} B`
  if (a < 1024 ** 2) return `${trim((b / 1024).toFixed(1))} KiB`
  if (a < 1024 ** 3) return `${trim((b / 1024 ** 2).toFixed(1))} MiB`
  return `${trim((b / 1024 ** 3).toFixed(2))} GiB`
}

export type Unit = "ms" | "s" | "percent" | "ratio" | "bytes" | "count"

/** A metric's unit from the naming conventions the service and OpenTelemetry use (points carry none). */
export const unitOf = (metricName: string): Unit => {
  if (/(Ms|_ms|\.ms|_milliseconds)$/.test(metricName)) return "ms"
  // OpenTelemetry semantic conventions measure durations in seconds (http.server.request.duration).
  if (/(_seconds|\.duration)$/.test(metricName)) return "s"
  if (/(Percent|_pct|\.percent|utilization)$/i.test(metricName)) return "percent"
  if (/(Rate|ratio)$/.test(metricName) && /error/i.test(metricName)) return "ratio"
  if (/(Bytes|_bytes|\.bytes|\.size)$/i.test(metricName)) return "bytes"
  return "count"
}

/** A metric value with its unit. */
export const formatValue = (v: number | null | undefined, unit: Unit): string => {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–"
  switch (unit) {
    case "ms":
      return formatDuration(v)
    case "s":
      return formatDuration(v * 1000)
    case "percent":
      return `${formatDecimal(v)} %`
    case "ratio":
      return formatPercent(v)
    case "bytes":
      return formatBytes(v)
    case "count":
      return formatDecimal(v)
  }
}

export const unitLabel = (unit: Unit): string => ({ ms: "ms", s: "s", percent: "%", ratio: "%", bytes: "bytes", count: "" })[unit]

/**
 * A GenAI cost as the tenant's price table gives it: tokens of a model without a price are unpriced,
 * not free, so they are said, never folded into "$0". The dollars as formatUsd writes them everywhere.
 */
export const formatCost = (costUsd: number, unpricedTokens: number): string => {
  const usd = formatUsd(costUsd)
  if (unpricedTokens <= 0) return usd
  const unpriced = `${formatTokens(unpricedTokens)} unpriced`
  return costUsd === 0 ? unpriced : `${usd} + ${unpriced}`
}

/** Tokens, compact: "1,500 tok", "12k tok". */
export const formatTokens = (n: number): string => `${formatCount(n, true)} tok`

/**
 * What calls cost in USD, where unpriced tokens (a model without a price) are not free: nothing priced
 * is "no price", not "$0"; some priced is the priced part "+ unpriced".
 */
export const formatSpend = (costUsd: number, unpricedTokens: number): string =>
  nothingPriced(costUsd, unpricedTokens) ? "no price" : unpricedTokens > 0 ? `${formatUsd(costUsd)} + unpriced` : formatUsd(costUsd)

/** Tokens were used but none had a price: the cost is unknown, not $0. */
export const nothingPriced = (costUsd: number, unpricedTokens: number): boolean => costUsd === 0 && unpricedTokens > 0

const counted = (n: number, what: string, compact = false) => `${formatCount(n, compact)} ${what}${n === 1 ? "" : "s"}`

/** "1 call", "12 calls", "1.2k calls" (compact). */
export const formatCalls = (n: number, compact = false): string => counted(n, "call", compact)

/**
 * An execution's GenAI totals in a table cell: "1,500 tok · $0.0123", "12k tok · no price", or what was
 * called when no usage was reported ("1 LLM call · no usage") — never "0 tok · $0".
 */
export const formatGenaiCell = (g: {
  readonly llmCalls: number; readonly toolCalls: number; readonly inputTokens: number; readonly outputTokens: number
  readonly costUsd: number; readonly unpricedTokens: number
}): string => {
  const tokens = g.inputTokens + g.outputTokens
  if (tokens > 0) return `${formatTokens(tokens)} · ${formatSpend(g.costUsd, g.unpricedTokens)}`
  if (g.llmCalls > 0) return `${counted(g.llmCalls, "LLM call", true)} · no usage`
  return g.toolCalls > 0 ? counted(g.toolCalls, "tool call", true) : "–"
}

/**
 * An execution's GenAI totals in one line, saying only what happened: "3 LLM calls · 2 tool calls ·
 * 1,500 tokens · $0.0123" (no "0 tokens · $0.0000" for calls that reported no usage).
 */
export const formatGenaiTotals = (g: {
  readonly llmCalls: number; readonly toolCalls: number; readonly inputTokens: number; readonly outputTokens: number
  readonly costUsd: number; readonly unpricedTokens: number
}): string => {
  const parts: Array<string> = []
  if (g.llmCalls > 0) parts.push(counted(g.llmCalls, "LLM call"))
  if (g.toolCalls > 0) parts.push(counted(g.toolCalls, "tool call"))
  const tokens = g.inputTokens + g.outputTokens
  if (tokens > 0) parts.push(counted(tokens, "token"))
  else if (g.llmCalls > 0) parts.push("no token usage reported")
  if (g.costUsd > 0 || g.unpricedTokens > 0) parts.push(formatCost(g.costUsd, g.unpricedTokens))
  return parts.length === 0 ? "no model or tool call" : parts.join(" · ")
}
