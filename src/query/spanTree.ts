// A trace's spans as a tree, with self time and the critical path. Pure.

export interface SpanInput {
  readonly spanId: string
  readonly parentSpanId: string | null
  readonly name: string
  readonly serviceName: string
  readonly startMs: number
  readonly endMs: number
  readonly error: boolean
}

export interface SpanNode {
  readonly span: SpanInput
  readonly depth: number
  readonly children: ReadonlyArray<SpanNode>
  /** Duration minus the union of the children's intervals (clipped to this span). */
  readonly selfTimeMs: number
}

export interface SpanTree {
  readonly roots: ReadonlyArray<SpanNode>
  /** Every node, depth first, children in start order. */
  readonly ordered: ReadonlyArray<SpanNode>
}

const byStart = (a: SpanInput, b: SpanInput) => a.startMs - b.startMs || a.endMs - b.endMs || (a.spanId < b.spanId ? -1 : 1)

/** Length of the union of intervals, each clipped to [lo, hi]. */
export const unionLength = (intervals: ReadonlyArray<readonly [number, number]>, lo: number, hi: number): number => {
  const clipped = intervals
    .map(([s, e]) => [Math.max(s, lo), Math.min(e, hi)] as const)
    .filter(([s, e]) => e > s)
    .sort((a, b) => a[0] - b[0])
  let total = 0
  let curS = Number.NEGATIVE_INFINITY
  let curE = Number.NEGATIVE_INFINITY
  for (const [s, e] of clipped) {
    if (s > curE) {
      if (curE > curS) total += curE - curS
      curS = s
      curE = e
    } else curE = Math.max(curE, e)
  }
  if (curE > curS) total += curE - curS
  return total
}

/**
 * Spans whose parent is absent (or that sit on a parent cycle) become roots, so every span appears
 * exactly once. Duplicate span ids keep the first.
 */
export const buildSpanTree = (spans: ReadonlyArray<SpanInput>): SpanTree => {
  const unique = new Map<string, SpanInput>()
  for (const s of spans) if (!unique.has(s.spanId)) unique.set(s.spanId, s)
  const all = [...unique.values()].sort(byStart)
  const childrenOf = new Map<string, Array<SpanInput>>()
  for (const s of all) {
    if (s.parentSpanId === null || s.parentSpanId === s.spanId || !unique.has(s.parentSpanId)) continue
    const list = childrenOf.get(s.parentSpanId) ?? []
    if (list.length === 0) childrenOf.set(s.parentSpanId, list)
    list.push(s)
  }
  const placed = new Set<string>()
  const build = (s: SpanInput, depth: number): SpanNode => {
    placed.add(s.spanId)
    const children = (childrenOf.get(s.spanId) ?? []).filter((c) => !placed.has(c.spanId)).map((c) => build(c, depth + 1))
    const selfTimeMs = Math.max(0, s.endMs - s.startMs - unionLength(children.map((c) => [c.span.startMs, c.span.endMs]), s.startMs, s.endMs))
    return { span: s, depth, children, selfTimeMs }
  }
  const roots: Array<SpanNode> = []
  for (const s of all) {
    const parentKnown = s.parentSpanId !== null && s.parentSpanId !== s.spanId && unique.has(s.parentSpanId)
    if (!parentKnown && !placed.has(s.spanId)) roots.push(build(s, 0))
  }
  // What is left sits on a parent cycle: break it at its earliest span.
  for (const s of all) if (!placed.has(s.spanId)) roots.push(build(s, 0))
  const ordered: Array<SpanNode> = []
  const visit = (n: SpanNode): void => {
    ordered.push(n)
    n.children.forEach(visit)
  }
  roots.forEach(visit)
  return { roots, ordered }
}

export interface CriticalPath {
  /** Time each span spends on the critical path (its own work there, not its children's). */
  readonly timeBySpan: ReadonlyMap<string, number>
  /** Time on the path covered by no span (between several roots). */
  readonly untrackedMs: number
  readonly totalMs: number
}

/**
 * The critical path, walked back from the end (as Jaeger does): inside a span, the child that finishes
 * last before the cursor bounds the span's end; the time after that child is the span's own, then the
 * walk enters the child, and continues before the child's start. Children are clipped to their parent,
 * so the path's times add up exactly to the root's duration. Several roots hang under a virtual root
 * spanning them all; its own time is `untrackedMs`.
 */
export const criticalPath = (roots: ReadonlyArray<SpanNode>): CriticalPath => {
  const timeBySpan = new Map<string, number>()
  let untrackedMs = 0
  const add = (id: string | null, ms: number) => {
    if (ms <= 0) return
    if (id === null) untrackedMs += ms
    else timeBySpan.set(id, (timeBySpan.get(id) ?? 0) + ms)
  }
  const walk = (id: string | null, children: ReadonlyArray<SpanNode>, lo: number, hi: number) => {
    let cursor = hi
    const byEnd = [...children].sort((a, b) => b.span.endMs - a.span.endMs || b.span.startMs - a.span.startMs)
    for (const child of byEnd) {
      if (cursor <= lo) break
      if (child.span.startMs >= cursor || child.span.endMs <= lo) continue
      const childEnd = Math.min(child.span.endMs, cursor)
      const childStart = Math.max(child.span.startMs, lo)
      add(id, cursor - childEnd)
      walk(child.span.spanId, child.children, childStart, childEnd)
      cursor = childStart
    }
    add(id, cursor - lo)
  }
  if (roots.length === 0) return { timeBySpan, untrackedMs: 0, totalMs: 0 }
  const only = roots.length === 1 ? roots[0] : undefined
  const lo = Math.min(...roots.map((r) => r.span.startMs))
  const hi = Math.max(...roots.map((r) => r.span.endMs))
  if (only !== undefined) walk(only.span.spanId, only.children, only.span.startMs, only.span.endMs)
  else walk(null, roots, lo, hi)
  return { timeBySpan, untrackedMs, totalMs: Math.max(0, hi - lo) }
}
