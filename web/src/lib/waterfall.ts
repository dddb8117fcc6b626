import type { SpanNodeView } from "../../../src/domain/queryViews.ts"

// The waterfall's rows: the span tree in depth-first order (children by start time), collapsed
// subtrees left out, each row with its bar as fractions of the trace's time axis.

export type Span = typeof SpanNodeView.Type

/** OpenTelemetry's STATUS_CODE_ERROR. */
export const STATUS_ERROR = 2

export interface Row {
  readonly span: Span
  readonly depth: number
  readonly startMs: number
  readonly endMs: number
  /** Bar start and width as fractions of the trace's duration (width at least 0 for instants). */
  readonly left: number
  readonly width: number
  readonly hasChildren: boolean
  readonly collapsed: boolean
  /** The span spends time on the critical path (the chain of spans the trace's end waited on). */
  readonly critical: boolean
  readonly error: boolean
  /** Descendants hidden under a collapsed row. */
  readonly hiddenDescendants: number
}

export interface Layout {
  readonly rows: ReadonlyArray<Row>
  readonly startMs: number
  readonly endMs: number
  readonly durationMs: number
  readonly spanCount: number
  readonly criticalCount: number
  readonly errorCount: number
  readonly services: ReadonlyArray<string>
}

export interface SpanTree {
  readonly spans: ReadonlyArray<Span>
  readonly byId: ReadonlyMap<string, Span>
  /** Per span (by index): start and end in epoch ms, children's indexes (by start time). */
  readonly starts: ReadonlyArray<number>
  readonly ends: ReadonlyArray<number>
  readonly kids: ReadonlyArray<ReadonlyArray<number>>
  readonly roots: ReadonlyArray<number>
  /** Depth-first order: indexes into `spans`, with each span's depth. */
  readonly order: ReadonlyArray<{ readonly index: number; readonly depth: number; readonly descendants: number }>
  readonly startMs: number
  readonly endMs: number
  readonly services: ReadonlyArray<string>
}

/** Depth-first order of the spans, iteratively (a 10,000-deep chain must not overflow the stack). */
export const buildTree = (spans: ReadonlyArray<Span>): SpanTree => {
  const byId = new Map(spans.map((s) => [s.spanId, s]))
  const indexOf = new Map(spans.map((s, i) => [s.spanId, i]))
  const start = spans.map((s) => Date.parse(s.startTime))
  const ends = spans.map((s, i) => Math.max(Date.parse(s.endTime), start[i]!))
  const kids: Array<Array<number>> = spans.map(() => [])
  const roots: Array<number> = []
  spans.forEach((s, i) => {
    const parent = s.parentSpanId === null || s.parentSpanId === s.spanId ? undefined : indexOf.get(s.parentSpanId)
    if (parent === undefined) roots.push(i)
    else kids[parent]!.push(i)
  })
  // The server's order (src/query/spanTree.ts): start, then end, then span id.
  const byStart = (a: number, b: number) => start[a]! - start[b]! || ends[a]! - ends[b]! || (spans[a]!.spanId < spans[b]!.spanId ? -1 : 1)
  roots.sort(byStart)
  for (const list of kids) list.sort(byStart)
  const order: Array<{ index: number; depth: number; descendants: number }> = []
  const seen = new Set<number>()
  const stack: Array<{ index: number; depth: number }> = roots.map((index) => ({ index, depth: 0 })).reverse()
  const open: Array<{ at: number; depth: number }> = []
  const closeTo = (depth: number) => {
    while (open.length > 0 && open[open.length - 1]!.depth >= depth) {
      const o = open.pop()!
      order[o.at]!.descendants = order.length - o.at - 1
    }
  }
  while (stack.length > 0) {
    const { index, depth } = stack.pop()!
    if (seen.has(index)) continue
    seen.add(index)
    closeTo(depth)
    open.push({ at: order.length, depth })
    order.push({ index, depth, descendants: 0 })
    const children = kids[index]!
    for (let c = children.length - 1; c >= 0; c--) stack.push({ index: children[c]!, depth: depth + 1 })
  }
  closeTo(0)
  // A cycle in parent ids leaves spans unreached: show them as roots rather than drop them.
  spans.forEach((_, i) => {
    if (!seen.has(i)) order.push({ index: i, depth: 0, descendants: 0 })
  })
  const startMs = spans.length === 0 ? 0 : start.reduce((a, b) => Math.min(a, b), Infinity)
  const endMs = spans.length === 0 ? 0 : ends.reduce((a, b) => Math.max(a, b), -Infinity)
  const services = [...new Set(spans.map((s) => s.serviceName))].sort()
  return { spans, byId, starts: start, ends, kids, roots, order, startMs, endMs, services }
}

/** The visible rows: every span in tree order except those under a collapsed span. */
export const layoutRows = (tree: SpanTree, collapsed: ReadonlySet<string>): Layout => {
  const duration = Math.max(tree.endMs - tree.startMs, 0)
  const rows: Array<Row> = []
  let criticalCount = 0
  let errorCount = 0
  for (let i = 0; i < tree.order.length; i++) {
    const o = tree.order[i]!
    const span = tree.spans[o.index]!
    const startMs = tree.starts[o.index]!
    const endMs = tree.ends[o.index]!
    const critical = span.criticalPathMs > 0
    const error = span.statusCode === STATUS_ERROR
    if (critical) criticalCount++
    if (error) errorCount++
    const isCollapsed = collapsed.has(span.spanId) && o.descendants > 0
    rows.push({
      span,
      depth: o.depth,
      startMs,
      endMs,
      left: duration === 0 ? 0 : (startMs - tree.startMs) / duration,
      width: duration === 0 ? 0 : (endMs - startMs) / duration,
      hasChildren: o.descendants > 0,
      collapsed: isCollapsed,
      critical,
      error,
      hiddenDescendants: isCollapsed ? o.descendants : 0
    })
    if (isCollapsed) {
      // Hidden spans still count: the header's totals describe the trace, not the view.
      for (let j = i + 1; j <= i + o.descendants; j++) {
        const h = tree.spans[tree.order[j]!.index]!
        if (h.criticalPathMs > 0) criticalCount++
        if (h.statusCode === STATUS_ERROR) errorCount++
      }
      i += o.descendants
    }
  }
  return { rows, startMs: tree.startMs, endMs: tree.endMs, durationMs: duration, spanCount: tree.spans.length, criticalCount, errorCount, services: tree.services }
}

/** Time-axis ticks for a duration: about `target` round steps (1, 2 or 5 × 10^n ms). */
export const axisTicks = (durationMs: number, target = 5): ReadonlyArray<number> => {
  if (!(durationMs > 0)) return [0]
  const raw = durationMs / target
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag
  const ticks: Array<number> = []
  for (let t = 0; t <= durationMs + 1e-9; t += step) ticks.push(t)
  return ticks
}

/** The spans whose name or service contains `query`, or whose id is `query`: the waterfall's search. */
export const matchingSpans = (spans: ReadonlyArray<Span>, query: string): ReadonlySet<string> => {
  const q = query.trim().toLowerCase()
  if (q === "") return new Set()
  return new Set(spans.filter((s) => s.name.toLowerCase().includes(q) || s.serviceName.toLowerCase().includes(q) || s.spanId === q).map((s) => s.spanId))
}

/**
 * Where the critical path runs through each span, as [from, to] epoch-ms intervals: the server's
 * walk (src/query/spanTree.ts criticalPath) replayed to place the path on the bars, since the API gives
 * only each span's time on it. From the end backwards, the child that finished last before the cursor
 * is on the path; the gaps between such children are the parent's own time. Iterative for deep trees.
 */
export const criticalSegments = (tree: SpanTree): ReadonlyMap<string, ReadonlyArray<readonly [number, number]>> => {
  const segments = new Map<string, Array<readonly [number, number]>>()
  const add = (index: number | null, from: number, to: number) => {
    if (index === null || to <= from) return
    const id = tree.spans[index]!.spanId
    const list = segments.get(id)
    if (list === undefined) segments.set(id, [[from, to]])
    else list.push([from, to])
  }
  const byEnd = (list: ReadonlyArray<number>) => [...list].sort((a, b) => tree.ends[b]! - tree.ends[a]! || tree.starts[b]! - tree.starts[a]!)
  interface Frame { readonly index: number | null; readonly kids: ReadonlyArray<number>; readonly lo: number; cursor: number; next: number }
  if (tree.roots.length === 0) return segments
  const only = tree.roots.length === 1 ? tree.roots[0]! : null
  const stack: Array<Frame> =
    only !== null
      ? [{ index: only, kids: byEnd(tree.kids[only]!), lo: tree.starts[only]!, cursor: tree.ends[only]!, next: 0 }]
      : [{ index: null, kids: byEnd(tree.roots), lo: tree.startMs, cursor: tree.endMs, next: 0 }]
  while (stack.length > 0) {
    const f = stack[stack.length - 1]!
    if (f.next < f.kids.length && f.cursor > f.lo) {
      const c = f.kids[f.next++]!
      if (tree.starts[c]! >= f.cursor || tree.ends[c]! <= f.lo) continue
      const childEnd = Math.min(tree.ends[c]!, f.cursor)
      const childStart = Math.max(tree.starts[c]!, f.lo)
      add(f.index, childEnd, f.cursor)
      f.cursor = childStart
      stack.push({ index: c, kids: byEnd(tree.kids[c]!), lo: childStart, cursor: childEnd, next: 0 })
    } else {
      add(f.index, f.lo, f.cursor)
      stack.pop()
    }
  }
  return segments
}
