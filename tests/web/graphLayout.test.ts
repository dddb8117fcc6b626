import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { assignLayers, countCrossings, DEFAULT_LAYOUT, edgePath, feedbackEdges, layoutGraph } from "../../web/src/lib/graphLayout.ts"
import type { Layout } from "../../web/src/lib/graphLayout.ts"
import { candidates, labelBox, placeLabels } from "../../web/src/lib/edgeLabels.ts"

const e = (source: string, target: string) => ({ source, target })
const node = (l: Layout, id: string) => {
  const n = l.nodes.find((x) => x.id === id)
  if (n === undefined) throw new Error(`no node ${id}`)
  return n
}

/** A point of an edge's drawn curve (graphLayout's edgePath: a cubic with horizontal tangents). */
const along = (a: { x: number; y: number }, b: { x: number; y: number }, t: number) => {
  const dx = (b.x - a.x) / 2
  const u = 1 - t
  return {
    x: u ** 3 * a.x + 3 * u * u * t * (a.x + dx) + 3 * u * t * t * (b.x - dx) + t ** 3 * b.x,
    y: u ** 3 * a.y + 3 * u * u * t * a.y + 3 * u * t * t * b.y + t ** 3 * b.y
  }
}

describe("layered graph layout", () => {
  it("puts callers left of callees, one layer per hop of the longest path", () => {
    const l = layoutGraph(["gateway", "orders", "postgres", "billing"], [e("gateway", "orders"), e("orders", "postgres"), e("gateway", "billing")])
    expect(Object.fromEntries(l.nodes.map((n) => [n.id, n.layer]))).toEqual({ gateway: 0, orders: 1, billing: 1, postgres: 2 })
    expect(l.layers).toBe(3)
    expect(node(l, "gateway").x).toBeLessThan(node(l, "orders").x)
    expect(l.edges.every((x) => !x.reversed)).toBe(true)
  })

  it("moves a source next to its callee instead of leaving it in the first column", () => {
    const l = layoutGraph(["a", "b", "c", "late"], [e("a", "b"), e("b", "c"), e("late", "c")])
    expect(node(l, "late").layer).toBe(1)
  })

  it("breaks a cycle by drawing one of its edges backwards, and still draws every edge", () => {
    const edges = [e("a", "b"), e("b", "c"), e("c", "a")]
    expect([...feedbackEdges(["a", "b", "c"], edges)]).toEqual([2])
    const l = layoutGraph(["a", "b", "c"], edges)
    expect(l.edges.map((x) => [x.source, x.target, x.reversed])).toEqual([["a", "b", false], ["b", "c", false], ["c", "a", true]])
    const back = l.edges[2]!
    // The reversed edge still starts at its source (c, on the right) and ends at its target (a).
    expect(back.points[0]!.x).toBe(node(l, "c").x)
    expect(back.points[back.points.length - 1]!.x).toBe(node(l, "a").x + node(l, "a").width)
  })

  it("routes an edge that skips layers through the columns between, outside every node", () => {
    const l = layoutGraph(["a", "b", "c", "d"], [e("a", "b"), e("b", "c"), e("c", "d"), e("a", "d")])
    const long = l.edges.find((x) => x.source === "a" && x.target === "d")!
    expect(long.points).toHaveLength(2 + 2 * 2)
    for (const p of long.points.slice(1, -1)) {
      for (const n of l.nodes) {
        const inside = p.x > n.x && p.x < n.x + n.width && p.y > n.y && p.y < n.y + n.height
        expect(inside, `${JSON.stringify(p)} inside ${n.id}`).toBe(false)
      }
    }
  })

  it("orders each layer so that edges do not cross when they need not", () => {
    // Given in an order that crosses: a→y, b→x with x listed first.
    const l = layoutGraph(["a", "b", "x", "y"], [e("a", "y"), e("b", "x")])
    const orders = [0, 1].map((layer) => l.nodes.filter((n) => n.layer === layer).sort((p, q) => p.order - q.order).map((n) => n.id))
    expect(countCrossings(orders, [e("a", "y"), e("b", "x")])).toBe(0)
    expect(countCrossings([["a", "b"], ["x", "y"]], [e("a", "y"), e("b", "x")])).toBe(1)
  })

  it("draws a self-call as a loop above its node, and gives each edge a label point", () => {
    const l = layoutGraph(["planner"], [e("planner", "planner")])
    const loop = l.edges[0]!
    expect(loop.self).toBe(true)
    expect(loop.label.y).toBeLessThan(node(l, "planner").y)
    expect(edgePath(loop.points, true)).toMatch(/^M[\d.]+,[\d.]+ C/)
  })

  it("is empty for no nodes, and brings in nodes only named by edges", () => {
    expect(layoutGraph([], [])).toEqual({ width: 0, height: 0, layers: 0, nodes: [], edges: [] })
    expect(layoutGraph(["a"], [e("a", "b")]).nodes.map((n) => n.id)).toEqual(["a", "b"])
  })

  it("places each edge's numbers clear of every node and every other label, on its own path", () => {
    // Compact nodes, a caller fanning out to five callees and a long edge: the middles would collide.
    const edges = [e("r", "web"), e("r", "db"), e("r", "claude"), e("r", "gpt"), e("r", "llama"), e("p", "gpt"), e("p", "r")]
    const size = { width: 130, height: 28 }
    const l = layoutGraph(["p", "r", "web", "db", "claude", "gpt", "llama"], edges, { ...DEFAULT_LAYOUT, nodeHeight: 40, nodeGap: 12 }, edges.map(() => size))
    const boxes = l.edges.map((x) => labelBox(x.label, size))
    const overlaps = (a: { x: number; y: number; width: number; height: number }, b: typeof a) =>
      a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height
    boxes.forEach((box, i) => {
      for (const n of l.nodes) expect(overlaps(box, n), `label ${i} over node ${n.id}`).toBe(false)
      boxes.forEach((other, j) => i !== j && expect(overlaps(box, other), `labels ${i} and ${j}`).toBe(false))
      const xs = l.edges[i]!.points.map((p) => p.x)
      expect(l.edges[i]!.label.x).toBeGreaterThanOrEqual(Math.min(...xs))
      expect(l.edges[i]!.label.x).toBeLessThanOrEqual(Math.max(...xs))
    })
    // With room to spare, the label sits at the middle of its edge.
    const one = layoutGraph(["a", "b"], [e("a", "b")])
    const [p0, p1] = one.edges[0]!.points as [{ x: number; y: number }, { x: number; y: number }]
    expect(one.edges[0]!.label).toEqual({ x: (p0.x + p1.x) / 2, y: (p0.y + p1.y) / 2, anchor: "middle" })
  })

  it("keeps each edge's numbers off every line where a clear spot exists: a fanned-out edge going down has them right of its point", () => {
    // The agent graph of a planner calling a model (up) and a tool (down), as the console sizes their labels.
    const labels = ["1 call · 1,500 tok", "1 call"]
    const sizes = labels.map((t) => ({ width: t.length * 6.9 + 8, height: 14 }))
    const l = layoutGraph(["agent:planner", "model:gpt-4o", "tool:web_search"], [e("agent:planner", "model:gpt-4o"), e("agent:planner", "tool:web_search")], DEFAULT_LAYOUT, sizes)
    const lines = l.edges.flatMap((x) => x.points.slice(1).flatMap((b, i) => Array.from({ length: 101 }, (_, k) => along(x.points[i]!, b, k / 100))))
    l.edges.forEach((x, i) => {
      const box = labelBox(x.label, sizes[i]!)
      const under = lines.filter((q) => q.x > box.x && q.x < box.x + box.width && q.y > box.y && q.y < box.y + box.height)
      expect(under, `label ${i} (${labels[i]}) at ${JSON.stringify(x.label)} over a line`).toEqual([])
      for (const n of l.nodes) expect(box.x < n.x + n.width && n.x < box.x + box.width && box.y < n.y + n.height && n.y < box.y + box.height, `label ${i} over ${n.id}`).toBe(false)
    })
  })

  it("hangs an edge's numbers under its point when every spot above is taken: the service map's steep gateway → orders edge", () => {
    // The console's service map (tests/web/opsPages.test.ts) with its labels as Services.tsx writes them:
    // in this order of the edges, orders is laid out under billing, gateway → orders descends steeply
    // between gateway and billing, and its label has two lines. Above every point of it the label covered
    // gateway, billing or its own line (the screenshot of stop 23: its own dashed line through the text).
    const edges = [e("gateway", "auth"), e("inventory", "postgres"), e("orders", "inventory"), e("orders", "postgres"), e("billing", "postgres"), e("gateway", "billing"), e("gateway", "orders")]
    const labels = [["10 calls · p95 6 ms"], ["10 calls · p95 4 ms"], ["10 calls · p95 15 ms"], ["10 calls · p95 5 ms"], ["5 calls · p95 10 ms"], ["5 calls · p95 80 ms"], ["10 calls · p95 58.5 ms", "⚠ 20 % errors (2)"]]
    const sizes = labels.map((l) => ({ width: Math.max(...l.map((t) => t.length)) * 6.9 + 8, height: l.length * 14 }))
    const l = layoutGraph(["gateway", "auth", "billing", "orders", "inventory", "postgres"], edges, DEFAULT_LAYOUT, sizes)
    expect(Object.fromEntries(l.nodes.map((n) => [n.id, n.y]))).toMatchObject({ auth: 24, billing: 116, orders: 208 })
    const lines = l.edges.flatMap((x) => x.points.slice(1).flatMap((b, i) => Array.from({ length: 101 }, (_, k) => along(x.points[i]!, b, k / 100))))
    const boxes = l.edges.map((x, i) => labelBox(x.label, sizes[i]!))
    const overlaps = (a: { x: number; y: number; width: number; height: number }, b: typeof a) =>
      a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height
    boxes.forEach((box, i) => {
      for (const n of l.nodes) expect(overlaps(box, n), `label ${i} over ${n.id}`).toBe(false)
      boxes.forEach((other, j) => i !== j && expect(overlaps(box, other), `labels ${i} and ${j}`).toBe(false))
    })
    // gateway → orders: under its point, clear of every line (the fan into postgres leaves inventory →
    // postgres no clear spot either way: it keeps the least covered one).
    const box = boxes[6]!
    expect(l.edges[6]!.label.below).toBe(true)
    expect(lines.filter((q) => q.x > box.x && q.x < box.x + box.width && q.y > box.y && q.y < box.y + box.height)).toEqual([])
  })

  it("prefers the straight run of a long edge through a layer for its label", () => {
    const l = layoutGraph(["a", "b", "c"], [e("a", "b"), e("b", "c"), e("a", "c")])
    const long = l.edges[2]!
    expect(long.points).toHaveLength(4)
    expect(candidates(long)[0]).toEqual({ x: (long.points[1]!.x + long.points[2]!.x) / 2, y: long.points[1]!.y, anchor: "middle" })
    expect(placeLabels([], [long])[0]).toEqual(candidates(long)[0])
  })

  it("edge paths are smooth curves through every point", () => {
    expect(edgePath([{ x: 0, y: 0 }, { x: 100, y: 50 }])).toBe("M0,0 C50,0 50,50 100,50")
  })

  const graphs = fc
    .integer({ min: 1, max: 14 })
    .chain((n) =>
      fc.record({
        n: fc.constant(n),
        edges: fc.array(fc.tuple(fc.integer({ min: 0, max: n - 1 }), fc.integer({ min: 0, max: n - 1 })), { maxLength: 30 })
      })
    )

  it("for any graph: every node placed once, no two nodes overlap, forward edges go right, paths end at their nodes", () => {
    fc.assert(
      fc.property(graphs, ({ n, edges }) => {
        const ids = Array.from({ length: n }, (_, i) => `s${i}`)
        const es = edges.map(([a, b]) => e(`s${a}`, `s${b}`))
        const l = layoutGraph(ids, es)
        expect(l.nodes.map((x) => x.id).sort()).toEqual([...ids].sort())
        for (const a of l.nodes) {
          for (const b of l.nodes) {
            if (a === b) continue
            const apart = a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y
            expect(apart, `${a.id} overlaps ${b.id}`).toBe(true)
          }
          expect(a.x + a.width).toBeLessThanOrEqual(l.width)
          expect(a.y + a.height).toBeLessThanOrEqual(l.height)
        }
        expect(l.edges).toHaveLength(es.length)
        l.edges.forEach((x) => {
          if (x.self) return
          const s = node(l, x.source)
          const t = node(l, x.target)
          expect(x.reversed ? s.layer > t.layer : s.layer < t.layer).toBe(true)
          const first = x.points[0]!
          const last = x.points[x.points.length - 1]!
          expect(first.x).toBe(x.reversed ? s.x : s.x + s.width)
          expect(last.x).toBe(x.reversed ? t.x + t.width : t.x)
          expect(first.y).toBeGreaterThan(s.y)
          expect(first.y).toBeLessThan(s.y + s.height)
          expect(last.y).toBeGreaterThan(t.y)
          expect(last.y).toBeLessThan(t.y + t.height)
        })
        // Deterministic: the same input gives the same picture.
        expect(layoutGraph(ids, es)).toEqual(l)
      }),
      { numRuns: 150 }
    )
  })

  it("for any DAG the layers respect every edge (longest-path layering)", () => {
    fc.assert(
      fc.property(graphs, ({ n, edges }) => {
        const ids = Array.from({ length: n }, (_, i) => `s${i}`)
        const dag = edges.filter(([a, b]) => a < b).map(([a, b]) => e(`s${a}`, `s${b}`))
        expect(feedbackEdges(ids, dag).size).toBe(0)
        const layer = assignLayers(ids, dag)
        for (const d of dag) expect(layer.get(d.target)!).toBeGreaterThan(layer.get(d.source)!)
        expect(Math.min(...layer.values())).toBe(0)
      })
    )
  })

  it("uses the sizes it is given", () => {
    const l = layoutGraph(["a", "b"], [e("a", "b")], { ...DEFAULT_LAYOUT, nodeWidth: 100, layerGap: 50, margin: 10 })
    expect(node(l, "b").x).toBe(10 + 100 + 50)
    expect(l.width).toBe(10 * 2 + 2 * 100 + 50)
  })
})
