import { formatUsd } from "../domain/money.ts"
import type { CriticalPath, SpanTree } from "./spanTree.ts"
import { counted, fmtPct as pct } from "./recommendations.ts"
import { formatDuration as ms } from "../domain/duration.ts"

// GenAI facts of an execution's analysis. Pure: from the span tree (spans carrying their GenAI kind,
// model and cost) and its critical path.

export interface GenaiAnalysis {
  /** Critical-path time inside model calls (their own time and their children's), and its share of the path. */
  readonly modelCallsCriticalPathMs: number
  readonly modelCallsShareOfCriticalPath: number
  readonly toolCallsCriticalPathMs: number
  readonly toolCallsShareOfCriticalPath: number
  /** Model calls of one parent that ran one after the other: could they overlap, the group would take its longest call. */
  readonly sequentialModelCalls: ReadonlyArray<{ readonly parentSpanId: string; readonly spanIds: ReadonlyArray<string>; readonly totalMs: number; readonly savableMs: number }>
  readonly mostExpensiveModel: { readonly model: string; readonly costUsd: number; readonly calls: number } | null
  readonly summary: string
}

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits

/** Null when no span of the tree is a model or tool call. */
export const analyseGenai = (tree: SpanTree, path: CriticalPath, totalMs: number): GenaiAnalysis | null => {
  const parent = new Map<string, string | null>()
  const kind = new Map<string, "model" | "tool">()
  for (const n of tree.ordered) {
    parent.set(n.span.spanId, n.span.parentSpanId)
    const g = n.span.genai
    if (g?.kind === "model" || g?.kind === "tool") kind.set(n.span.spanId, g.kind)
  }
  if (kind.size === 0) return null
  // Each span's critical-path time goes to its nearest model or tool call (itself included), if any.
  let modelMs = 0
  let toolMs = 0
  for (const [id, t] of path.timeBySpan) {
    let cur: string | null | undefined = id
    for (let hops = 0; cur != null && hops < 10_000; hops++) {
      const k = kind.get(cur)
      if (k !== undefined) {
        if (k === "model") modelMs += t
        else toolMs += t
        break
      }
      cur = parent.get(cur)
    }
  }
  const sequential: Array<GenaiAnalysis["sequentialModelCalls"][number]> = []
  for (const n of tree.ordered) {
    const calls = n.children.filter((c) => c.span.genai?.kind === "model").map((c) => c.span).sort((a, b) => a.startMs - b.startMs)
    let run: typeof calls = []
    const flush = () => {
      if (run.length >= 2) {
        const total = run.reduce((s, c) => s + (c.endMs - c.startMs), 0)
        const longest = run.reduce((m, c) => Math.max(m, c.endMs - c.startMs), 0)
        sequential.push({ parentSpanId: n.span.spanId, spanIds: run.map((c) => c.spanId), totalMs: round(total), savableMs: round(total - longest) })
      }
      run = []
    }
    for (const c of calls) {
      const last = run[run.length - 1]
      if (last !== undefined && c.startMs < last.endMs) flush()
      run.push(c)
    }
    flush()
  }
  sequential.sort((a, b) => b.savableMs - a.savableMs)
  const costs = new Map<string, { costUsd: number; calls: number }>()
  for (const n of tree.ordered) {
    const g = n.span.genai
    if (g?.kind !== "model" || g.model == null) continue
    const c = costs.get(g.model) ?? { costUsd: 0, calls: 0 }
    costs.set(g.model, { costUsd: c.costUsd + (g.costUsd ?? 0), calls: c.calls + 1 })
  }
  const top = [...costs].sort((a, b) => b[1].costUsd - a[1].costUsd || b[1].calls - a[1].calls)[0]
  const mostExpensiveModel = top === undefined ? null : { model: top[0], costUsd: top[1].costUsd, calls: top[1].calls }
  const share = (x: number) => (totalMs > 0 ? round(x / totalMs, 4) : 0)
  const best = sequential[0]
  return {
    modelCallsCriticalPathMs: round(modelMs), modelCallsShareOfCriticalPath: share(modelMs),
    toolCallsCriticalPathMs: round(toolMs), toolCallsShareOfCriticalPath: share(toolMs),
    sequentialModelCalls: sequential.slice(0, 10),
    mostExpensiveModel,
    summary: `model calls hold ${pct(share(modelMs))} of the critical path, tool calls ${pct(share(toolMs))}` +
      (best === undefined ? "" : `; ${best.spanIds.length} model calls ran one after another (${ms(best.totalMs)}): run concurrently they could save up to ${ms(best.savableMs)}`) +
      (mostExpensiveModel === null || mostExpensiveModel.costUsd === 0 ? "" : `; most expensive model ${mostExpensiveModel.model} (${formatUsd(mostExpensiveModel.costUsd)} over ${counted(mostExpensiveModel.calls, "call")})`)
  }
}
