import { analyseGenai } from "./genaiAnalysis.ts"
import type { GenaiAnalysis } from "./genaiAnalysis.ts"
import { buildSpanTree, criticalPath } from "./spanTree.ts"
import type { SpanInput, SpanNode } from "./spanTree.ts"
import { counted, fmtPct as pct, recommend } from "./recommendations.ts"
import { formatDuration as ms } from "../domain/duration.ts"

// The performance analysis of one finished execution. Pure: the caller loads spans and the baseline.

export interface ExecutionFacts {
  readonly traceId: string
  readonly spanId: string
  readonly operationName: string
  readonly serviceName: string
  readonly status: string
  readonly startMs: number
  readonly durationMs: number | null
  readonly errorCount: number
  readonly warningCount: number
  readonly metrics: Readonly<Record<string, unknown>>
}

export interface Baseline {
  /** executions: durations of finished native executions; span_red_1m: the operation's span histogram. */
  readonly source: "executions" | "span_red_1m"
  readonly windowDays: number
  readonly sampleCount: number
  readonly p50Ms: number | null
  readonly p95Ms: number | null
}

export type Grade = "A" | "B" | "C" | "D" | "E" | "F"

export interface Bottleneck {
  readonly spanId: string
  readonly name: string
  readonly serviceName: string
  readonly durationMs: number
  readonly selfTimeMs: number
  /** Time this span itself (not its children) holds the critical path. */
  readonly criticalPathMs: number
  readonly shareOfDuration: number
}

export interface Recommendation {
  readonly kind: string
  /** The measured fact the advice rests on. */
  readonly fact: string
  readonly recommendation: string
  readonly spanId: string | null
}

export interface BaselineComparison {
  readonly source: Baseline["source"]
  readonly windowDays: number
  readonly sampleCount: number
  readonly p50Ms: number | null
  readonly p95Ms: number | null
  readonly durationMs: number
  readonly ratioToP50: number | null
  readonly ratioToP95: number | null
  readonly band: "at_or_below_p50" | "p50_to_p95" | "above_p95" | "no_baseline"
  readonly summary: string
}

export interface PerformanceAnalysis {
  readonly overallPerformance: {
    readonly status: string
    readonly succeeded: boolean
    readonly durationMs: number
    readonly spanCount: number
    readonly serviceCount: number
    readonly errorSpanCount: number
    readonly maxDepth: number
    readonly criticalPathMs: number
    readonly untrackedMs: number
    /** Sum of span durations over the trace's duration: above 1 means work ran concurrently. */
    readonly parallelism: number | null
    readonly summary: string
  }
  readonly bottlenecks: ReadonlyArray<Bottleneck>
  readonly comparisonWithBaseline: BaselineComparison
  readonly optimizationRecommendations: ReadonlyArray<Recommendation>
  readonly performanceGrade: Grade
  readonly gradeReasons: ReadonlyArray<string>
  /** Model and tool calls on the critical path, sequential model calls, the most expensive model; null without GenAI spans. */
  readonly genai: GenaiAnalysis | null
}

export const MIN_BASELINE_SAMPLES = 5
export const MAX_BOTTLENECKS = 10
const GRADES: ReadonlyArray<Grade> = ["A", "B", "C", "D", "E", "F"]
const UNFINISHED = new Set(["active", "paused"])
const FAILED = new Set(["failed", "timed_out", "cancelled"])

export const isFinished = (status: string) => !UNFINISHED.has(status)
const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits

export const compareWithBaseline = (durationMs: number, b: Baseline): BaselineComparison => {
  const usable = b.sampleCount >= MIN_BASELINE_SAMPLES && b.p50Ms !== null && b.p95Ms !== null && b.p50Ms > 0 && b.p95Ms > 0
  const base = { source: b.source, windowDays: b.windowDays, sampleCount: b.sampleCount, p50Ms: b.p50Ms, p95Ms: b.p95Ms, durationMs }
  if (!usable || b.p50Ms === null || b.p95Ms === null) {
    return { ...base, ratioToP50: null, ratioToP95: null, band: "no_baseline", summary: `no baseline: ${b.sampleCount} earlier samples from ${b.source} in ${b.windowDays} days (at least ${MIN_BASELINE_SAMPLES} needed)` }
  }
  const band = durationMs <= b.p50Ms ? "at_or_below_p50" : durationMs <= b.p95Ms ? "p50_to_p95" : "above_p95"
  return {
    ...base,
    ratioToP50: round(durationMs / b.p50Ms, 4),
    ratioToP95: round(durationMs / b.p95Ms, 4),
    band,
    summary: `${ms(durationMs)} against p50 ${ms(b.p50Ms)} and p95 ${ms(b.p95Ms)} of ${b.sampleCount} samples (${b.source}, ${b.windowDays} days): ${band.replace(/_/g, " ")}`
  }
}

/**
 * The grade, first rule that applies:
 * F — the execution did not succeed (failed, timed_out, cancelled, or its root span has error status);
 * otherwise a base letter from the baseline: ≤ p50 A, ≤ p95 B, ≤ 1.5×p95 C, ≤ 2×p95 D, ≤ 3×p95 E,
 * beyond F; without a baseline (fewer than 5 samples) B, as nothing shows the run is fast;
 * then one letter down (never past E) for error spans absorbed by a successful execution, and one for
 * recorded errors or warnings.
 */
export const gradeOf = (succeeded: boolean, status: string, cmp: BaselineComparison, errorSpans: number, errors: number, warnings: number) => {
  if (!succeeded) return { grade: "F" as Grade, reasons: [`the execution did not succeed (status ${status})`] }
  const reasons: Array<string> = []
  let index: number
  if (cmp.band === "no_baseline" || cmp.ratioToP95 === null || cmp.p95Ms === null) {
    index = 1
    reasons.push("B: no baseline to show the run is fast")
  } else {
    const r = cmp.ratioToP95
    index = cmp.band === "at_or_below_p50" ? 0 : r <= 1 ? 1 : r <= 1.5 ? 2 : r <= 2 ? 3 : r <= 3 ? 4 : 5
    reasons.push(`${GRADES[index]}: ${cmp.band === "at_or_below_p50" ? "at or below the p50" : `${round(r, 2)}× the p95`} of the ${cmp.windowDays}-day baseline`)
  }
  if (index < 5) {
    if (errorSpans > 0) {
      index = Math.min(4, index + 1)
      reasons.push(`one letter down: ${counted(errorSpans, "span")} ended with error status`)
    }
    if (errors + warnings > 0) {
      index = Math.min(4, index + 1)
      reasons.push(`one letter down: ${counted(errors, "error")} and ${counted(warnings, "warning")} recorded`)
    }
  }
  return { grade: GRADES[index] ?? "F", reasons }
}

const mainRoot = (roots: ReadonlyArray<SpanNode>, facts: ExecutionFacts) =>
  roots.find((r) => r.span.spanId === facts.spanId) ?? (roots.length === 1 ? roots[0] : undefined)

/**
 * The analysis of a finished execution (null while it is active or paused). `spans` may be empty (a
 * native execution without OTLP spans): the critical path is then the execution itself.
 */
export const generatePerformanceAnalysis = (facts: ExecutionFacts, spans: ReadonlyArray<SpanInput>, baseline: Baseline): PerformanceAnalysis | null => {
  if (!isFinished(facts.status)) return null
  const tree = buildSpanTree(spans)
  const path = criticalPath(tree.roots)
  const root = mainRoot(tree.roots, facts)
  const durationMs = facts.durationMs ?? (root === undefined ? path.totalMs : root.span.endMs - root.span.startMs)
  const totalMs = tree.ordered.length === 0 ? durationMs : path.totalMs
  const nodes = new Map(tree.ordered.map((n) => [n.span.spanId, n]))
  const bottlenecks: Array<Bottleneck> = [...path.timeBySpan]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, MAX_BOTTLENECKS)
    .flatMap(([spanId, cp]) => {
      const n = nodes.get(spanId)
      if (n === undefined) return []
      return [{
        spanId, name: n.span.name, serviceName: n.span.serviceName, durationMs: round(n.span.endMs - n.span.startMs),
        selfTimeMs: round(n.selfTimeMs), criticalPathMs: round(cp), shareOfDuration: totalMs > 0 ? round(cp / totalMs, 4) : 0
      }]
    })
  const errorSpans = tree.ordered.filter((n) => n.span.error)
  const succeeded = !FAILED.has(facts.status) && !(root?.span.error ?? false)
  const cmp = compareWithBaseline(durationMs, baseline)
  const { grade, reasons } = gradeOf(succeeded, facts.status, cmp, errorSpans.length, facts.errorCount, facts.warningCount)
  const spanSum = tree.ordered.reduce((s, n) => s + (n.span.endMs - n.span.startMs), 0)
  const services = new Set(tree.ordered.map((n) => n.span.serviceName))
  const top = bottlenecks[0]
  return {
    overallPerformance: {
      status: facts.status,
      succeeded,
      durationMs: round(durationMs),
      spanCount: tree.ordered.length,
      serviceCount: Math.max(services.size, 1),
      errorSpanCount: errorSpans.length,
      maxDepth: tree.ordered.reduce((m, n) => Math.max(m, n.depth), 0),
      criticalPathMs: round(totalMs),
      untrackedMs: round(path.untrackedMs),
      parallelism: tree.ordered.length > 0 && totalMs > 0 ? round(spanSum / totalMs, 3) : null,
      summary: `${facts.operationName} ${succeeded ? "succeeded" : `did not succeed (${facts.status})`} in ${ms(durationMs)}` +
        (tree.ordered.length > 0 ? ` over ${counted(tree.ordered.length, "span")} in ${counted(Math.max(services.size, 1), "service")}` : "") +
        (top === undefined ? "" : `; "${top.name}" holds ${pct(top.shareOfDuration)} of the critical path`)
    },
    bottlenecks,
    comparisonWithBaseline: cmp,
    optimizationRecommendations: recommend({ facts, tree, path, totalMs, bottlenecks, errorSpans, succeeded, comparison: cmp }),
    performanceGrade: grade,
    gradeReasons: reasons,
    genai: analyseGenai(tree, path, totalMs)
  }
}
