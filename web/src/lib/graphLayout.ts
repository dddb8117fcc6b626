import { placeLabels } from "./edgeLabels.ts"
import type { LabelPoint, Size } from "./edgeLabels.ts"

// A layered (Sugiyama-style) layout for call graphs, left to right: cycles broken by reversing DFS back
// edges, longest-path layering, dummy nodes on edges that skip layers (so no edge runs through a node),
// barycenter sweeps to reduce crossings, then coordinates. Pure and deterministic: the same graph in the
// same order always gets the same picture, so a map does not jump about between refreshes.

export interface Point {
  readonly x: number
  readonly y: number
}

export interface LayoutOptions {
  readonly nodeWidth: number
  readonly nodeHeight: number
  /** Horizontal space between two layers (where the edges and their labels run). */
  readonly layerGap: number
  /** Vertical space between two nodes of a layer. */
  readonly nodeGap: number
  readonly margin: number
  /** The height a dummy node (an edge passing a layer) takes up. */
  readonly dummyHeight: number
}

export const DEFAULT_LAYOUT: LayoutOptions = { nodeWidth: 180, nodeHeight: 64, layerGap: 190, nodeGap: 28, margin: 24, dummyHeight: 20 }

export interface PlacedNode {
  readonly id: string
  readonly layer: number
  readonly order: number
  readonly x: number
  readonly y: number
  readonly width: number
  readonly height: number
}

export interface PlacedEdge {
  readonly source: string
  readonly target: string
  /** Drawn against the flow (right to left): it closes a cycle. */
  readonly reversed: boolean
  /** A call from a node to itself, drawn as a loop above it. */
  readonly self: boolean
  /** From the source's border to the target's border, through the layers it crosses. */
  readonly points: ReadonlyArray<Point>
  /** Where its numbers go: a point of its path, the label drawn just above it (see placeLabels). */
  readonly label: LabelPoint
}

export interface Layout {
  readonly width: number
  readonly height: number
  readonly layers: number
  readonly nodes: ReadonlyArray<PlacedNode>
  readonly edges: ReadonlyArray<PlacedEdge>
}

interface Edge {
  readonly source: string
  readonly target: string
}

/** The edges that, turned around, leave no cycle: DFS back edges, roots (no incoming edge) first. */
export const feedbackEdges = (ids: ReadonlyArray<string>, edges: ReadonlyArray<Edge>): ReadonlySet<number> => {
  const out = new Map<string, Array<number>>(ids.map((id) => [id, []]))
  const indegree = new Map<string, number>(ids.map((id) => [id, 0]))
  edges.forEach((e, i) => {
    if (e.source === e.target) return
    out.get(e.source)?.push(i)
    indegree.set(e.target, (indegree.get(e.target) ?? 0) + 1)
  })
  const state = new Map<string, 1 | 2>()
  const back = new Set<number>()
  const visit = (start: string) => {
    // Iterative DFS: a long chain of services must not overflow the stack.
    const stack: Array<{ id: string; next: number }> = [{ id: start, next: 0 }]
    state.set(start, 1)
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!
      const list = out.get(top.id) ?? []
      if (top.next >= list.length) {
        state.set(top.id, 2)
        stack.pop()
        continue
      }
      const i = list[top.next++]!
      const t = edges[i]!.target
      const s = state.get(t)
      if (s === 1) back.add(i)
      else if (s === undefined) {
        state.set(t, 1)
        stack.push({ id: t, next: 0 })
      }
    }
  }
  for (const id of ids) if ((indegree.get(id) ?? 0) === 0 && !state.has(id)) visit(id)
  for (const id of ids) if (!state.has(id)) visit(id)
  return back
}

/** Longest-path layers of a DAG (sources at 0), then each source moved right next to its nearest successor. */
export const assignLayers = (ids: ReadonlyArray<string>, dag: ReadonlyArray<Edge>): ReadonlyMap<string, number> => {
  const succ = new Map<string, Array<string>>(ids.map((id) => [id, []]))
  const pred = new Map<string, Array<string>>(ids.map((id) => [id, []]))
  for (const e of dag) {
    succ.get(e.source)!.push(e.target)
    pred.get(e.target)!.push(e.source)
  }
  const layer = new Map<string, number>()
  const remaining = new Map(ids.map((id) => [id, pred.get(id)!.length]))
  const queue = ids.filter((id) => remaining.get(id) === 0)
  for (let q = 0; q < queue.length; q++) {
    const id = queue[q]!
    layer.set(id, Math.max(0, ...pred.get(id)!.map((p) => layer.get(p)! + 1)))
    for (const s of succ.get(id)!) {
      remaining.set(s, remaining.get(s)! - 1)
      if (remaining.get(s) === 0) queue.push(s)
    }
  }
  for (const id of ids) {
    const next = succ.get(id)!
    if (pred.get(id)!.length === 0 && next.length > 0) layer.set(id, Math.min(...next.map((s) => layer.get(s)!)) - 1)
  }
  return layer
}

/** Pairs of edges between two adjacent layers that cross, given each layer's order. */
export const countCrossings = (orders: ReadonlyArray<ReadonlyArray<string>>, links: ReadonlyArray<Edge>): number => {
  const pos = new Map<string, { layer: number; index: number }>()
  orders.forEach((ids, layer) => ids.forEach((id, index) => pos.set(id, { layer, index })))
  const byLayer = new Map<number, Array<readonly [number, number]>>()
  for (const l of links) {
    const a = pos.get(l.source)
    const b = pos.get(l.target)
    if (a === undefined || b === undefined || b.layer !== a.layer + 1) continue
    byLayer.set(a.layer, [...(byLayer.get(a.layer) ?? []), [a.index, b.index] as const])
  }
  let n = 0
  for (const pairs of byLayer.values()) {
    for (let i = 0; i < pairs.length; i++) {
      for (let j = i + 1; j < pairs.length; j++) {
        const [a1, b1] = pairs[i]!
        const [a2, b2] = pairs[j]!
        if ((a1 - a2) * (b1 - b2) < 0) n++
      }
    }
  }
  return n
}

const SWEEPS = 8

/** Barycenter ordering, sweeping down and up the layers; the order with the fewest crossings wins. */
const orderLayers = (initial: ReadonlyArray<ReadonlyArray<string>>, links: ReadonlyArray<Edge>) => {
  const up = new Map<string, Array<string>>()
  const down = new Map<string, Array<string>>()
  for (const l of links) {
    down.set(l.source, [...(down.get(l.source) ?? []), l.target])
    up.set(l.target, [...(up.get(l.target) ?? []), l.source])
  }
  let orders = initial.map((ids) => [...ids])
  let best = orders.map((ids) => [...ids])
  let bestCrossings = countCrossings(best, links)
  const reorder = (layer: number, neighbours: Map<string, Array<string>>, ref: ReadonlyArray<string>) => {
    const index = new Map(ref.map((id, i) => [id, i]))
    const current = orders[layer]!
    const key = current.map((id, i) => {
      const ns = (neighbours.get(id) ?? []).map((n) => index.get(n)).filter((x): x is number => x !== undefined)
      return { id, i, bary: ns.length === 0 ? i : ns.reduce((a, b) => a + b, 0) / ns.length }
    })
    key.sort((a, b) => a.bary - b.bary || a.i - b.i)
    orders[layer] = key.map((k) => k.id)
  }
  for (let sweep = 0; sweep < SWEEPS && bestCrossings > 0; sweep++) {
    if (sweep % 2 === 0) for (let l = 1; l < orders.length; l++) reorder(l, up, orders[l - 1]!)
    else for (let l = orders.length - 2; l >= 0; l--) reorder(l, down, orders[l + 1]!)
    const c = countCrossings(orders, links)
    if (c < bestCrossings) {
      bestCrossings = c
      best = orders.map((ids) => [...ids])
    }
    orders = orders.map((ids) => [...ids])
  }
  return best
}

const DUMMY = "\u0000dummy:"

/** Lays `nodes` out in layers left to right; edges to unknown nodes bring those nodes in. */
export const layoutGraph = (
  nodes: ReadonlyArray<string>,
  edges: ReadonlyArray<Edge>,
  options: LayoutOptions = DEFAULT_LAYOUT,
  /** Each edge's label size (estimated by the caller), so that labels are placed clear of each other. */
  labelSizes: ReadonlyArray<Size | undefined> = []
): Layout => {
  const o = options
  const ids = [...new Set([...nodes, ...edges.flatMap((e) => [e.source, e.target])])]
  if (ids.length === 0) return { width: 0, height: 0, layers: 0, nodes: [], edges: [] }
  const back = feedbackEdges(ids, edges)
  const dag = edges.flatMap((e, i) => (e.source === e.target ? [] : [back.has(i) ? { source: e.target, target: e.source } : e]))
  const layer = new Map(assignLayers(ids, dag))

  // Each DAG edge as a chain of links between adjacent layers, through dummy nodes.
  const chains: Array<ReadonlyArray<string>> = []
  const links: Array<Edge> = []
  dag.forEach((e, i) => {
    const chain = [e.source]
    for (let l = layer.get(e.source)! + 1; l < layer.get(e.target)!; l++) {
      const d = `${DUMMY}${i}:${l}`
      layer.set(d, l)
      chain.push(d)
    }
    chain.push(e.target)
    for (let k = 1; k < chain.length; k++) links.push({ source: chain[k - 1]!, target: chain[k]! })
    chains.push(chain)
  })
  const layers = Math.max(...layer.values()) + 1
  const initial: Array<Array<string>> = Array.from({ length: layers }, () => [])
  for (const [id, l] of layer) initial[l]!.push(id)
  const orders = orderLayers(initial, links)

  // Coordinates: each layer a column, centred vertically on the tallest one.
  const slot = (id: string) => (id.startsWith(DUMMY) ? o.dummyHeight : o.nodeHeight)
  const columnHeight = orders.map((ids) => ids.reduce((h, id) => h + slot(id), 0) + Math.max(0, ids.length - 1) * o.nodeGap)
  const tallest = Math.max(...columnHeight)
  const placed = new Map<string, PlacedNode>()
  orders.forEach((ids, l) => {
    let y = o.margin + (tallest - columnHeight[l]!) / 2
    ids.forEach((id, order) => {
      placed.set(id, { id, layer: l, order, x: o.margin + l * (o.nodeWidth + o.layerGap), y, width: o.nodeWidth, height: slot(id) })
      y += slot(id) + o.nodeGap
    })
  })

  const mid = (n: PlacedNode) => n.y + n.height / 2
  let chainIndex = 0
  const placedEdges = edges.map((e, i): PlacedEdge => {
    const s = placed.get(e.source)!
    if (e.source === e.target) {
      const points = [{ x: s.x + s.width * 0.65, y: s.y }, { x: s.x + s.width * 0.5, y: s.y - 26 }, { x: s.x + s.width * 0.35, y: s.y }]
      return { source: e.source, target: e.target, reversed: false, self: true, points, label: { x: s.x + s.width / 2, y: s.y - 30, anchor: "middle" } }
    }
    const chain = chains[chainIndex++]!.map((id) => placed.get(id)!)
    const reversed = back.has(i)
    // A returning edge runs a little lower, so a pair of opposite calls shows as two lines.
    const dy = reversed ? Math.min(10, o.nodeHeight / 6) : 0
    const points: Array<Point> = [{ x: chain[0]!.x + chain[0]!.width, y: mid(chain[0]!) + dy }]
    for (const d of chain.slice(1, -1)) points.push({ x: d.x, y: mid(d) + dy }, { x: d.x + d.width, y: mid(d) + dy })
    const last = chain[chain.length - 1]!
    points.push({ x: last.x, y: mid(last) + dy })
    if (reversed) points.reverse()
    return { source: e.source, target: e.target, reversed, self: false, points, label: { ...points[0]!, anchor: "middle" } }
  })

  const real = [...placed.values()].filter((n) => !n.id.startsWith(DUMMY))
  const outs = new Map<string, number>()
  const ins = new Map<string, number>()
  for (const e of edges) {
    if (e.source === e.target) continue
    outs.set(e.source, (outs.get(e.source) ?? 0) + 1)
    ins.set(e.target, (ins.get(e.target) ?? 0) + 1)
  }
  const labels = placeLabels(real, placedEdges.map((e) => ({ ...e, fanOut: (outs.get(e.source) ?? 0) > 1, fanIn: (ins.get(e.target) ?? 0) > 1 })), labelSizes)
  return {
    width: o.margin * 2 + layers * o.nodeWidth + (layers - 1) * o.layerGap,
    height: o.margin * 2 + tallest,
    layers,
    nodes: real.sort((a, b) => a.layer - b.layer || a.order - b.order),
    edges: placedEdges.map((e, i) => ({ ...e, label: labels[i]! }))
  }
}

/** An SVG path through the points with horizontal tangents at each one (smooth, and flat at the nodes). */
export const edgePath = (points: ReadonlyArray<Point>, self = false): string => {
  if (points.length === 0) return ""
  const p0 = points[0]!
  if (self && points.length === 3) {
    const [a, top, b] = points as readonly [Point, Point, Point]
    return `M${a.x},${a.y} C${a.x + 18},${top.y - 12} ${b.x - 18},${top.y - 12} ${b.x},${b.y}`
  }
  let d = `M${p0.x},${p0.y}`
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!
    const b = points[i]!
    const dx = (b.x - a.x) / 2
    d += ` C${a.x + dx},${a.y} ${b.x - dx},${b.y} ${b.x},${b.y}`
  }
  return d
}
