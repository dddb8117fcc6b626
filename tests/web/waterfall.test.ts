import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { buildSpanTree, criticalPath } from "../../src/query/spanTree.ts"
import { axisTicks, buildTree, criticalSegments, layoutRows, matchingSpans, STATUS_ERROR } from "../../web/src/lib/waterfall.ts"
import type { Span } from "../../web/src/lib/waterfall.ts"

const T0 = Date.UTC(2026, 10, 26, 10, 0, 0)
const id = (i: number) => i.toString(16).padStart(16, "0")

/** Spans as the API returns them, the critical-path times computed by the server's own code. */
const asApi = (specs: ReadonlyArray<{ parent: number | null; start: number; end: number; error?: boolean }>): Array<Span> => {
  const inputs = specs.map((s, i) => ({ spanId: id(i + 1), parentSpanId: s.parent === null ? null : id(s.parent + 1), name: `op${i}`, serviceName: `svc${i % 3}`, startMs: T0 + s.start, endMs: T0 + s.end, error: s.error === true }))
  const tree = buildSpanTree(inputs)
  const path = criticalPath(tree.roots)
  return tree.ordered.map((n) => ({
    spanId: n.span.spanId, parentSpanId: n.span.parentSpanId, name: n.span.name, serviceName: n.span.serviceName, kind: 1,
    statusCode: n.span.error ? STATUS_ERROR : 1, statusMessage: null,
    startTime: new Date(n.span.startMs).toISOString(), endTime: new Date(n.span.endMs).toISOString(), durationMs: n.span.endMs - n.span.startMs,
    depth: n.depth, selfTimeMs: n.selfTimeMs, children: n.children.map((c) => c.span.spanId), criticalPathMs: path.timeBySpan.get(n.span.spanId) ?? 0,
    attributes: {}, events: [], genai: null
  }))
}

/** Random traces: each span's parent comes before it (or it is a root); whole milliseconds. */
const traces = fc.array(fc.record({ parentPick: fc.nat(), root: fc.boolean(), start: fc.integer({ min: 0, max: 5000 }), length: fc.integer({ min: 0, max: 3000 }), error: fc.boolean() }), { minLength: 1, maxLength: 40 })
  .map((xs) => xs.map((x, i) => ({ parent: i === 0 || x.root ? null : x.parentPick % i, start: x.start, end: x.start + x.length, error: x.error })))

describe("waterfall layout", () => {
  it("shows every span once, parents before children, each one level below its parent", () => {
    fc.assert(fc.property(traces, (specs) => {
      const spans = asApi(specs)
      const { rows } = layoutRows(buildTree([...spans].reverse()), new Set())
      expect(rows.map((r) => r.span.spanId)).toEqual(spans.map((s) => s.spanId))
      const depth = new Map(rows.map((r) => [r.span.spanId, r.depth]))
      for (const r of rows) expect(r.depth).toBe(r.span.parentSpanId === null ? 0 : depth.get(r.span.parentSpanId)! + 1)
    }))
  })

  it("places bars on a shared axis from the first start to the last end", () => {
    const spans = asApi([{ parent: null, start: 0, end: 1000 }, { parent: 0, start: 250, end: 750 }, { parent: 0, start: 900, end: 1000, error: true }])
    const layout = layoutRows(buildTree(spans), new Set())
    expect(layout.durationMs).toBe(1000)
    expect(layout.rows.map((r) => [r.left, r.width])).toEqual([[0, 1], [0.25, 0.5], [0.9, 0.1]])
    expect(layout.rows.map((r) => r.error)).toEqual([false, false, true])
    expect(layout.errorCount).toBe(1)
  })

  it("hides exactly the descendants of a collapsed span, and counts them on its row", () => {
    fc.assert(fc.property(traces, fc.nat(), (specs, pick) => {
      const spans = asApi(specs)
      const tree = buildTree(spans)
      const target = spans[pick % spans.length]!
      const descendants = new Set<string>()
      const walk = (s: Span) => s.children.forEach((c) => { descendants.add(c); walk(tree.byId.get(c)!) })
      walk(target)
      const layout = layoutRows(tree, new Set([target.spanId]))
      expect(layout.rows.map((r) => r.span.spanId)).toEqual(spans.map((s) => s.spanId).filter((s) => !descendants.has(s)))
      expect(layout.rows.find((r) => r.span.spanId === target.spanId)!.hiddenDescendants).toBe(descendants.size)
      expect(layout.spanCount).toBe(spans.length)
    }))
  })

  it("marks the rows on the critical path, and places the path where the server's walk found it", () => {
    fc.assert(fc.property(traces, (specs) => {
      const spans = asApi(specs)
      const tree = buildTree(spans)
      const rows = layoutRows(tree, new Set()).rows
      const segments = criticalSegments(tree)
      for (const r of rows) {
        expect(r.critical).toBe(r.span.criticalPathMs > 0)
        const placed = (segments.get(r.span.spanId) ?? []).reduce((n, [a, b]) => n + b - a, 0)
        expect(placed).toBeCloseTo(r.span.criticalPathMs, 6)
        for (const [a, b] of segments.get(r.span.spanId) ?? []) {
          expect(a).toBeGreaterThanOrEqual(r.startMs)
          expect(b).toBeLessThanOrEqual(r.endMs)
        }
      }
    }))
  })

  it("lays out a 10,000-deep chain without overflowing the stack", () => {
    const spans = asApi(Array.from({ length: 2000 }, (_, i) => ({ parent: i === 0 ? null : i - 1, start: i, end: 10_000 - i })))
    const deep = [...spans]
    for (let i = 2000; i < 10_000; i++) deep.push({ ...spans[1999]!, spanId: id(i + 1), parentSpanId: id(i), depth: i, children: [], criticalPathMs: 0 })
    const layout = layoutRows(buildTree(deep), new Set())
    expect(layout.rows).toHaveLength(10_000)
    expect(layout.rows[9999]!.depth).toBe(9999)
    expect(criticalSegments(buildTree(deep)).size).toBeGreaterThan(0)
  })

  it("finds spans by name, service or id", () => {
    const spans = asApi([{ parent: null, start: 0, end: 10 }, { parent: 0, start: 1, end: 2 }])
    expect([...matchingSpans(spans, "OP1")]).toEqual([id(2)])
    expect(matchingSpans(spans, "svc").size).toBe(2)
    expect([...matchingSpans(spans, id(1))]).toEqual([id(1)])
    expect(matchingSpans(spans, " ").size).toBe(0)
  })

  it("ticks the axis at round steps", () => {
    expect(axisTicks(1000)).toEqual([0, 200, 400, 600, 800, 1000])
    expect(axisTicks(4000)).toEqual([0, 1000, 2000, 3000, 4000])
    expect(axisTicks(0)).toEqual([0])
  })
})
