import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { compareWithBaseline, generatePerformanceAnalysis, gradeOf } from "../../src/query/analysis.ts"
import type { Baseline, ExecutionFacts } from "../../src/query/analysis.ts"
import { buildSpanTree, criticalPath, unionLength } from "../../src/query/spanTree.ts"
import type { SpanInput } from "../../src/query/spanTree.ts"
import { formatDuration } from "../../src/domain/duration.ts"

const span = (spanId: string, parentSpanId: string | null, name: string, startMs: number, endMs: number, error = false): SpanInput =>
  ({ spanId, parentSpanId, name, serviceName: name === "bank" ? "bank-gw" : "shop", startMs, endMs, error })

/** checkout 0–1000: auth, three sequential db.query, then payment whose bank call takes most of it. */
const checkout: ReadonlyArray<SpanInput> = [
  span("r", null, "checkout", 0, 1000),
  span("a", "r", "auth", 0, 100),
  span("d1", "r", "db.query", 100, 200),
  span("d2", "r", "db.query", 200, 300),
  span("d3", "r", "db.query", 300, 400),
  span("p", "r", "payment", 400, 1000),
  span("b", "p", "bank", 450, 950)
]

const facts = (over: Partial<ExecutionFacts> = {}): ExecutionFacts => ({
  traceId: "t", spanId: "r", operationName: "checkout", serviceName: "shop", status: "completed", startMs: 0, durationMs: 1000,
  errorCount: 0, warningCount: 0, metrics: {}, ...over
})
const noBaseline: Baseline = { source: "span_red_1m", windowDays: 7, sampleCount: 0, p50Ms: null, p95Ms: null }
const baseline = (p50Ms: number, p95Ms: number): Baseline => ({ source: "executions", windowDays: 7, sampleCount: 50, p50Ms, p95Ms })

describe("span tree", () => {
  it("gives depth, children and self time", () => {
    const tree = buildSpanTree(checkout)
    expect(tree.roots.map((r) => r.span.spanId)).toEqual(["r"])
    const byId = new Map(tree.ordered.map((n) => [n.span.spanId, n]))
    expect(tree.ordered.map((n) => n.span.spanId)).toEqual(["r", "a", "d1", "d2", "d3", "p", "b"])
    expect(byId.get("b")?.depth).toBe(2)
    expect(byId.get("r")?.children.map((c) => c.span.spanId)).toEqual(["a", "d1", "d2", "d3", "p"])
    expect(Object.fromEntries(tree.ordered.map((n) => [n.span.spanId, n.selfTimeMs]))).toEqual({ r: 0, a: 100, d1: 100, d2: 100, d3: 100, p: 100, b: 500 })
  })

  it("turns orphans into roots and breaks parent cycles", () => {
    const tree = buildSpanTree([span("x", "missing", "x", 0, 10), span("c1", "c2", "c", 5, 6), span("c2", "c1", "c", 4, 8)])
    expect(tree.ordered).toHaveLength(3)
    expect(tree.roots.map((r) => r.span.spanId).sort()).toEqual(["c2", "x"])
  })
})

describe("critical path", () => {
  it("follows the last-finishing child back from the end", () => {
    const path = criticalPath(buildSpanTree(checkout).roots)
    expect(Object.fromEntries(path.timeBySpan)).toEqual({ b: 500, p: 100, d3: 100, d2: 100, d1: 100, a: 100 })
    expect(path.totalMs).toBe(1000)
    expect(path.untrackedMs).toBe(0)
  })

  it("of overlapping children takes the one that ends last, then what ran before it", () => {
    const path = criticalPath(buildSpanTree([span("r", null, "root", 0, 100), span("x", "r", "x", 10, 90), span("y", "r", "y", 20, 60)]).roots)
    expect(Object.fromEntries(path.timeBySpan)).toEqual({ r: 20, x: 80 })
  })

  it("counts time between several roots as untracked", () => {
    const path = criticalPath(buildSpanTree([span("a", null, "a", 0, 100), span("b", null, "b", 300, 400)]).roots)
    expect(path).toMatchObject({ totalMs: 400, untrackedMs: 200 })
  })

  const arbTree = fc.array(fc.record({ parent: fc.nat(), start: fc.integer({ min: 0, max: 1000 }), len: fc.integer({ min: 0, max: 500 }) }), { minLength: 1, maxLength: 30 })
    .map((xs) => xs.map((x, i): SpanInput => span(`s${i}`, i === 0 ? null : `s${x.parent % i}`, `n${i % 4}`, x.start, x.start + x.len)))

  it("adds up to the root's duration, and no span holds it longer than it ran", () => {
    fc.assert(fc.property(arbTree, (spans) => {
      const tree = buildSpanTree(spans)
      const path = criticalPath(tree.roots)
      const sum = [...path.timeBySpan.values()].reduce((s, x) => s + x, 0) + path.untrackedMs
      expect(sum).toBeCloseTo(path.totalMs, 6)
      for (const n of tree.ordered) {
        const onPath = path.timeBySpan.get(n.span.spanId) ?? 0
        expect(onPath).toBeGreaterThanOrEqual(0)
        expect(onPath).toBeLessThanOrEqual(n.span.endMs - n.span.startMs + 1e-9)
        expect(n.selfTimeMs).toBeGreaterThanOrEqual(0)
        expect(n.selfTimeMs).toBeLessThanOrEqual(n.span.endMs - n.span.startMs)
      }
    }), { numRuns: 300 })
  })

  it("union length never exceeds the window nor the sum of the parts", () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }))), (pairs) => {
      const iv = pairs.map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as const)
      const u = unionLength(iv, 10, 90)
      expect(u).toBeGreaterThanOrEqual(0)
      expect(u).toBeLessThanOrEqual(80)
      expect(u).toBeLessThanOrEqual(iv.reduce((s, [a, b]) => s + (b - a), 0))
    }))
  })
})

describe("performance analysis", () => {
  it("names the bottlenecks and derives each recommendation from a measured fact", () => {
    const a = generatePerformanceAnalysis(facts(), checkout, noBaseline)
    expect(a).not.toBeNull()
    if (a === null) return
    expect(a.bottlenecks[0]).toMatchObject({ spanId: "b", name: "bank", serviceName: "bank-gw", criticalPathMs: 500, shareOfDuration: 0.5, selfTimeMs: 500 })
    expect(a.bottlenecks.map((b) => b.spanId)).toEqual(["b", "a", "d1", "d2", "d3", "p"])
    expect(a.overallPerformance).toMatchObject({ durationMs: 1000, spanCount: 7, serviceCount: 2, maxDepth: 2, criticalPathMs: 1000, errorSpanCount: 0, succeeded: true })
    const kinds = a.optimizationRecommendations.map((r) => r.kind)
    expect(kinds).toEqual(["dominant_span", "sequential_calls"])
    expect(a.optimizationRecommendations[0]?.fact).toBe('span "bank" (bank-gw) is 50% of the critical path (500 ms of 1 s)')
    expect(a.optimizationRecommendations[1]?.fact).toBe('"db.query" ran 3 times one after another under "checkout" (300 ms, 30% of the duration)')
    expect(a.comparisonWithBaseline.band).toBe("no_baseline")
    expect(a.performanceGrade).toBe("B")
    // words a person reads: counts agree with their nouns, no "span(s)"
    expect(a.overallPerformance.summary).toBe('checkout succeeded in 1 s over 7 spans in 2 services; "bank" holds 50% of the critical path')
    const oneError = generatePerformanceAnalysis(facts({ errorCount: 1, warningCount: 2 }), checkout.map((s) => (s.spanId === "d2" ? { ...s, error: true } : s)), noBaseline)
    expect(oneError?.gradeReasons).toContain("one letter down: 1 span ended with error status")
    expect(oneError?.gradeReasons).toContain("one letter down: 1 error and 2 warnings recorded")
  })

  it("writes durations as a person reads them", () => {
    expect([formatDuration(850.04), formatDuration(1000), formatDuration(2500), formatDuration(1234), formatDuration(90_000)]).toEqual(["850 ms", "1 s", "2.5 s", "1.23 s", "1 min 30 s"])
  })

  it("is null while the execution runs", () => {
    expect(generatePerformanceAnalysis(facts({ status: "active" }), checkout, noBaseline)).toBeNull()
  })

  it("analyses a native execution without spans as a single step", () => {
    const a = generatePerformanceAnalysis(facts({ durationMs: 800, metrics: { cpuUsagePercent: 97 } }), [], baseline(1000, 2000))
    expect(a?.bottlenecks).toEqual([])
    expect(a?.overallPerformance.criticalPathMs).toBe(800)
    expect(a?.performanceGrade).toBe("A")
    expect(a?.optimizationRecommendations.map((r) => r.kind)).toEqual(["cpu_bound"])
  })

  it("grades by the documented rules", () => {
    const grade = (d: number, over: Partial<ExecutionFacts> = {}, spans: ReadonlyArray<SpanInput> = checkout) =>
      generatePerformanceAnalysis(facts({ durationMs: d, ...over }), spans, baseline(1000, 2000))?.performanceGrade
    expect([grade(1000), grade(2000), grade(3000), grade(4000), grade(6000), grade(6001)]).toEqual(["A", "B", "C", "D", "E", "F"])
    expect(grade(500, { status: "failed" })).toBe("F")
    expect(grade(500, { status: "timed_out" })).toBe("F")
    expect(grade(500, {}, checkout.map((s) => (s.spanId === "r" ? { ...s, error: true } : s)))).toBe("F")
    expect(grade(500, {}, checkout.map((s) => (s.spanId === "d2" ? { ...s, error: true } : s)))).toBe("B")
    expect(grade(500, { warningCount: 1 }, checkout.map((s) => (s.spanId === "d2" ? { ...s, error: true } : s)))).toBe("C")
    expect(grade(5000, { errorCount: 1, warningCount: 2 }, checkout.map((s) => (s.spanId === "d2" ? { ...s, error: true } : s)))).toBe("E")
  })

  it("never grades a success F unless it is beyond 3× the p95, and always grades a failure F", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 10_000 }), fc.nat(3), fc.nat(3), fc.boolean(), (d, errs, warns, failed) => {
      const cmp = compareWithBaseline(d, baseline(1000, 2000))
      const { grade } = gradeOf(!failed, failed ? "failed" : "completed", cmp, errs, errs, warns)
      if (failed) expect(grade).toBe("F")
      else expect(grade === "F").toBe(d > 6000)
    }))
  })

  it("states the baseline comparison against p50 and p95", () => {
    const c = compareWithBaseline(2500, baseline(1000, 2000))
    expect(c).toMatchObject({ band: "above_p95", ratioToP50: 2.5, ratioToP95: 1.25, source: "executions", sampleCount: 50 })
    expect(compareWithBaseline(2500, { ...baseline(1000, 2000), sampleCount: 4 }).band).toBe("no_baseline")
    const slow = generatePerformanceAnalysis(facts({ durationMs: 2500 }), checkout, baseline(1000, 2000))
    expect(slow?.optimizationRecommendations.find((r) => r.kind === "slower_than_baseline")?.fact)
      .toBe("took 2.5 s, 1.25× the 7-day p95 of 2 s (executions, 50 samples)")
  })
})
