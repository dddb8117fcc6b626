// A trace's spans as a tree, with self time and the critical path. Pure.

export interface SpanInput {
  readonly spanId: string
  readonly parentSpanId: string | null
  readonly name: string
  readonly serviceName: string
  readonly startMs: number
  readonly endMs: number
  readonly error: boolean
  /** What the span is as a GenAI call (the genai_* columns), for the analysis' GenAI facts. */
  readonly genai?: { readonly kind?: string | undefined; readonly model?: string | null | undefined; readonly costUsd?: number | null | undefined } | null
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

interface MutableNode {
  span: SpanInput
  depth: number
  children: Array<MutableNode>
  selfTimeMs: number
}

/**
 * Spans whose parent is absent (or that sit on a parent cycle) become roots, so every span appears
 * exactly once. Duplicate span ids keep the first. Iterative throughout: a trace may be a chain of
 * thousands of spans, each the parent of the next.
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
  const ordered: Array<MutableNode> = []
  // Depth first, children in start order: the pre-order of a recursive walk, with an explicit stack.
  const place = (root: SpanInput): MutableNode => {
    const top: MutableNode = { span: root, depth: 0, children: [], selfTimeMs: 0 }
    placed.add(root.spanId)
    const stack = [top]
    while (stack.length > 0) {
      const node = stack.pop()!
      ordered.push(node)
      for (const c of childrenOf.get(node.span.spanId) ?? []) {
        if (placed.has(c.spanId)) continue
        placed.add(c.spanId)
        node.children.push({ span: c, depth: node.depth + 1, children: [], selfTimeMs: 0 })
      }
      for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i]!)
    }
    return top
  }
  const roots: Array<MutableNode> = []
  for (const s of all) {
    const parentKnown = s.parentSpanId !== null && s.parentSpanId !== s.spanId && unique.has(s.parentSpanId)
    if (!parentKnown && !placed.has(s.spanId)) roots.push(place(s))
  }
  // What is left sits on a parent cycle: break it at its earliest span.
  for (const s of all) if (!placed.has(s.spanId)) roots.push(place(s))
  for (const n of ordered) {
    const s = n.span
    n.selfTimeMs = Math.max(0, s.endMs - s.startMs - unionLength(n.children.map((c) => [c.span.startMs, c.span.endMs]), s.startMs, s.endMs))
  }
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
  // One frame per span being walked: its children by end (latest first), the next one to look at,
  // and the cursor moving back from `hi` to `lo`. A child is entered by pushing its frame; when the
  // frame is done, the parent resumes before that child's start. Same walk as a recursion, no stack depth.
  interface Frame { readonly id: string | null; readonly byEnd: ReadonlyArray<SpanNode>; next: number; readonly lo: number; cursor: number }
  const frame = (id: string | null, children: ReadonlyArray<SpanNode>, lo: number, hi: number): Frame => ({
    id, lo, cursor: hi, next: 0,
    byEnd: [...children].sort((a, b) => b.span.endMs - a.span.endMs || b.span.startMs - a.span.startMs)
  })
  const walk = (first: Frame) => {
    const stack: Array<Frame> = [first]
    while (stack.length > 0) {
      const f = stack[stack.length - 1]!
      let entered = false
      while (f.next < f.byEnd.length && f.cursor > f.lo) {
        const child = f.byEnd[f.next++]!
        if (child.span.startMs >= f.cursor || child.span.endMs <= f.lo) continue
        const childEnd = Math.min(child.span.endMs, f.cursor)
        const childStart = Math.max(child.span.startMs, f.lo)
        add(f.id, f.cursor - childEnd)
        f.cursor = childStart
        stack.push(frame(child.span.spanId, child.children, childStart, childEnd))
        entered = true
        break
      }
      if (entered) continue
      add(f.id, f.cursor - f.lo)
      stack.pop()
    }
  }
  if (roots.length === 0) return { timeBySpan, untrackedMs: 0, totalMs: 0 }
  const only = roots.length === 1 ? roots[0] : undefined
  let lo = Number.POSITIVE_INFINITY
  let hi = Number.NEGATIVE_INFINITY
  for (const r of roots) {
    lo = Math.min(lo, r.span.startMs)
    hi = Math.max(hi, r.span.endMs)
  }
  if (only !== undefined) walk(frame(only.span.spanId, only.children, only.span.startMs, only.span.endMs))
  else walk(frame(null, roots, lo, hi))
  return { timeBySpan, untrackedMs, totalMs: Math.max(0, hi - lo) }
}
