import type { BaselineComparison, Bottleneck, ExecutionFacts, Recommendation } from "./analysis.ts"
import type { CriticalPath, SpanNode, SpanTree } from "./spanTree.ts"
import { formatDuration } from "../domain/duration.ts"

// Each recommendation states the measured fact it comes from; no fact, no advice.

export const DOMINANT_SHARE = 0.4
export const REPEAT_MIN = 3
export const UNTRACKED_SHARE = 0.2
export const CPU_HIGH_PERCENT = 90

export interface RecommendInput {
  readonly facts: ExecutionFacts
  readonly tree: SpanTree
  readonly path: CriticalPath
  readonly totalMs: number
  readonly bottlenecks: ReadonlyArray<Bottleneck>
  readonly errorSpans: ReadonlyArray<SpanNode>
  readonly succeeded: boolean
  readonly comparison: BaselineComparison
}

export const fmtPct = (share: number) => `${Math.round(share * 100)}%`
/** "1 span", "12 spans": what a person reads, not "span(s)". */
export const counted = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`

/** Children of one parent sharing a name, run one after another (none overlaps the next). */
const sequentialRepeats = (parent: SpanNode): Array<{ name: string; calls: ReadonlyArray<SpanNode> }> => {
  const byName = new Map<string, Array<SpanNode>>()
  for (const c of parent.children) {
    const list = byName.get(c.span.name) ?? []
    if (list.length === 0) byName.set(c.span.name, list)
    list.push(c)
  }
  return [...byName].flatMap(([name, calls]) => {
    if (calls.length < REPEAT_MIN) return []
    const sorted = [...calls].sort((a, b) => a.span.startMs - b.span.startMs)
    const sequential = sorted.every((c, i) => i === 0 || c.span.startMs >= (sorted[i - 1]?.span.endMs ?? 0))
    return sequential ? [{ name, calls: sorted }] : []
  })
}

export const recommend = (x: RecommendInput): Array<Recommendation> => {
  const out: Array<Recommendation> = []
  const multiSpan = x.tree.ordered.length > 1
  for (const b of x.bottlenecks) {
    if (!multiSpan || b.shareOfDuration < DOMINANT_SHARE) continue
    const node = x.tree.ordered.find((n) => n.span.spanId === b.spanId)
    const hasChildren = (node?.children.length ?? 0) > 0
    out.push({
      kind: hasChildren ? "uninstrumented_time" : "dominant_span",
      fact: `span "${b.name}" (${b.serviceName}) is ${fmtPct(b.shareOfDuration)} of the critical path (${formatDuration(b.criticalPathMs)} of ${formatDuration(x.totalMs)})` +
        (hasChildren ? ", in its own work outside its child spans" : ""),
      recommendation: hasChildren
        ? `Add child spans inside "${b.name}" to see where that time goes, then optimise the part that dominates.`
        : `Optimise "${b.name}" first (cache its result, speed up or batch the call): it bounds the execution's duration.`,
      spanId: b.spanId
    })
  }
  for (const parent of x.tree.ordered) {
    for (const { name, calls } of sequentialRepeats(parent)) {
      const total = calls.reduce((s, c) => s + (c.span.endMs - c.span.startMs), 0)
      out.push({
        kind: "sequential_calls",
        fact: `"${name}" ran ${calls.length} times one after another under "${parent.span.name}" (${formatDuration(total)}, ${fmtPct(x.totalMs > 0 ? total / x.totalMs : 0)} of the duration)`,
        recommendation: `Batch the ${calls.length} "${name}" calls into one, or run them concurrently if they are independent.`,
        spanId: parent.span.spanId
      })
    }
  }
  if (x.errorSpans.length > 0) {
    const first = x.errorSpans[0]
    const names = [...new Set(x.errorSpans.map((n) => `"${n.span.name}"`))].slice(0, 5).join(", ")
    out.push({
      kind: x.succeeded ? "absorbed_errors" : "failed_step",
      fact: `${counted(x.errorSpans.length, "span")} ended with error status (${names})${x.succeeded ? " although the execution succeeded" : ""}`,
      recommendation: x.succeeded
        ? "Look at the retries and fallbacks behind these errors: they were absorbed but cost time."
        : `Fix the failing step ${first === undefined ? "" : `"${first.span.name}" `}first; its error ended the execution.`,
      spanId: first?.span.spanId ?? null
    })
  }
  const c = x.comparison
  if (c.band === "above_p95" && c.p95Ms !== null && c.ratioToP95 !== null) {
    const top = x.bottlenecks[0]
    out.push({
      kind: "slower_than_baseline",
      fact: `took ${formatDuration(c.durationMs)}, ${Math.round(c.ratioToP95 * 100) / 100}× the ${c.windowDays}-day p95 of ${formatDuration(c.p95Ms)} (${c.source}, ${c.sampleCount} samples)`,
      recommendation: top === undefined
        ? `Compare this run's inputs with a typical run of "${x.facts.operationName}"; it is slower than 95% of them.`
        : `Compare "${top.name}" (${fmtPct(top.shareOfDuration)} of the critical path) with a typical run of "${x.facts.operationName}".`,
      spanId: top?.spanId ?? null
    })
  }
  if (x.path.untrackedMs > 0 && x.totalMs > 0 && x.path.untrackedMs / x.totalMs >= UNTRACKED_SHARE) {
    out.push({
      kind: "untracked_time",
      fact: `${formatDuration(x.path.untrackedMs)} (${fmtPct(x.path.untrackedMs / x.totalMs)}) of the trace lies between ${x.tree.roots.length} root spans, covered by no span`,
      recommendation: "Propagate the trace context so every step hangs under one root span; the gaps are waits nobody measured.",
      spanId: null
    })
  }
  const cpu = x.facts.metrics["cpuUsagePercent"]
  if (typeof cpu === "number" && cpu >= CPU_HIGH_PERCENT) {
    out.push({
      kind: "cpu_bound",
      fact: `cpuUsagePercent reached ${cpu} (at least ${CPU_HIGH_PERCENT})`,
      recommendation: "The run is CPU-bound: profile its hot path or give it more CPU before tuning I/O.",
      spanId: null
    })
  }
  return out
}
