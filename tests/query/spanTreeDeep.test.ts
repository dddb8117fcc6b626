import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { generatePerformanceAnalysis } from "../../src/query/analysis.ts"
import { buildSpanTree, criticalPath, unionLength } from "../../src/query/spanTree.ts"
import type { SpanInput, SpanNode } from "../../src/query/spanTree.ts"

const span = (spanId: string, parentSpanId: string | null, startMs: number, endMs: number): SpanInput =>
  ({ spanId, parentSpanId, name: `op${spanId.length % 3}`, serviceName: "svc", startMs, endMs, error: false })

/** A linear chain: each span the parent of the next, each nested 1 ms inside its parent at the start. */
const chain = (n: number): Array<SpanInput> =>
  Array.from({ length: n }, (_, i) => span(`s${i}`, i === 0 ? null : `s${i - 1}`, i, 2 * n - i))

describe("a deep trace", () => {
  it("a 5,000-span chain builds, walks and analyses without recursion", () => {
    const spans = chain(5_000)
    const tree = buildSpanTree(spans)
    expect(tree.roots).toHaveLength(1)
    expect(tree.ordered).toHaveLength(5_000)
    expect(tree.ordered.at(-1)?.depth).toBe(4_999)
    const path = criticalPath(tree.roots)
    const sum = [...path.timeBySpan.values()].reduce((s, x) => s + x, 0)
    expect(sum).toBeCloseTo(path.totalMs, 6)
    expect(path.totalMs).toBe(10_000)
    const analysis = generatePerformanceAnalysis(
      { traceId: "t", spanId: "s0", operationName: "op", serviceName: "svc", status: "completed", startMs: 0, durationMs: 10_000, errorCount: 0, warningCount: 0, metrics: {} },
      spans, { source: "span_red_1m", windowDays: 7, sampleCount: 0, p50Ms: null, p95Ms: null }
    )
    expect(analysis?.overallPerformance).toMatchObject({ spanCount: 5_000, maxDepth: 4_999 })
  })

  it("a 20,000-span chain (the detail's span limit) too", () => {
    const tree = buildSpanTree(chain(20_000))
    expect(criticalPath(tree.roots).totalMs).toBe(40_000)
  })
})

// The recursive implementation this replaced (kept as the oracle): same tree, same order, same path.
const recursiveTree = (spans: ReadonlyArray<SpanInput>) => {
  const unique = new Map<string, SpanInput>()
  for (const s of spans) if (!unique.has(s.spanId)) unique.set(s.spanId, s)
  const all = [...unique.values()].sort((a, b) => a.startMs - b.startMs || a.endMs - b.endMs || (a.spanId < b.spanId ? -1 : 1))
  const childrenOf = new Map<string, Array<SpanInput>>()
  for (const s of all) {
    if (s.parentSpanId === null || s.parentSpanId === s.spanId || !unique.has(s.parentSpanId)) continue
    childrenOf.set(s.parentSpanId, [...(childrenOf.get(s.parentSpanId) ?? []), s])
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
  for (const s of all) if (!placed.has(s.spanId)) roots.push(build(s, 0))
  const ordered: Array<SpanNode> = []
  const visit = (n: SpanNode): void => {
    ordered.push(n)
    n.children.forEach(visit)
  }
  roots.forEach(visit)
  return { roots, ordered }
}

const recursivePath = (roots: ReadonlyArray<SpanNode>) => {
  const timeBySpan = new Map<string, number>()
  let untrackedMs = 0
  const add = (id: string | null, ms: number) => {
    if (ms <= 0) return
    if (id === null) untrackedMs += ms
    else timeBySpan.set(id, (timeBySpan.get(id) ?? 0) + ms)
  }
  const walk = (id: string | null, children: ReadonlyArray<SpanNode>, lo: number, hi: number) => {
    let cursor = hi
    for (const child of [...children].sort((a, b) => b.span.endMs - a.span.endMs || b.span.startMs - a.span.startMs)) {
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
  if (roots.length === 0) return { timeBySpan, untrackedMs }
  if (roots.length === 1) walk(roots[0]!.span.spanId, roots[0]!.children, roots[0]!.span.startMs, roots[0]!.span.endMs)
  else walk(null, roots, Math.min(...roots.map((r) => r.span.startMs)), Math.max(...roots.map((r) => r.span.endMs)))
  return { timeBySpan, untrackedMs }
}

const shape = (n: SpanNode) => ({ id: n.span.spanId, depth: n.depth, self: n.selfTimeMs, children: n.children.map((c) => c.span.spanId) })

describe("the iterative span tree", () => {
  // Parents drawn from any index (forward references, orphans, cycles, duplicates), times overlapping.
  const arb = fc.array(
    fc.record({ id: fc.nat(40), parent: fc.option(fc.nat(45), { nil: null }), start: fc.integer({ min: 0, max: 200 }), len: fc.integer({ min: 0, max: 100 }) }),
    { maxLength: 40 }
  ).map((xs) => xs.map((x) => span(`s${x.id}`, x.parent === null ? null : `s${x.parent}`, x.start, x.start + x.len)))

  it("equals the recursive one: same roots, order, depths, self times and critical path", () => {
    fc.assert(fc.property(arb, (spans) => {
      const got = buildSpanTree(spans)
      const want = recursiveTree(spans)
      expect(got.roots.map((r) => r.span.spanId)).toEqual(want.roots.map((r) => r.span.spanId))
      expect(got.ordered.map(shape)).toEqual(want.ordered.map(shape))
      const p = criticalPath(got.roots)
      const q = recursivePath(want.roots)
      expect(p.untrackedMs).toBeCloseTo(q.untrackedMs, 9)
      expect([...p.timeBySpan.keys()].sort()).toEqual([...q.timeBySpan.keys()].sort())
      for (const [id, ms] of q.timeBySpan) expect(p.timeBySpan.get(id)).toBeCloseTo(ms, 9)
    }), { numRuns: 300 })
  })
})
