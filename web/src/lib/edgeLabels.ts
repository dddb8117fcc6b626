// Where each edge's numbers go: a point of its path with the label drawn just above it, chosen so
// that labels cover no node, no other label and no edge's line (its own included: the text of a
// descending edge placed to the left of its point sits on the curve, which is higher there). Edges fan
// out of a caller and into a callee, where a label at the middle of each would collide; the first clear
// spot along the edge wins (the middle, then further out, then the same points with the text on the
// other side, then the same points with the text under them), and when none is clear, the one that
// covers least. Pure and deterministic.

export interface Size {
  readonly width: number
  readonly height: number
}

interface P {
  readonly x: number
  readonly y: number
}

interface Rect {
  readonly x: number
  readonly y: number
  readonly width: number
  readonly height: number
}

export interface LabelledPath {
  readonly points: ReadonlyArray<P>
  readonly self: boolean
  /** Its caller has other edges out: they all leave from one point, so the label goes near the callee. */
  readonly fanOut?: boolean
  /** Its callee has other edges in: they all arrive at one point, so the label goes near the caller. */
  readonly fanIn?: boolean
}

export const DEFAULT_LABEL: Size = { width: 120, height: 14 }

/** Where the text stands against its point (SVG text-anchor): centred, starting after it, or ending before it. */
export type Anchor = "middle" | "start" | "end"

export interface LabelPoint extends P {
  readonly anchor: Anchor
  /** The text hangs under its point instead of standing on it (where every spot above is taken). */
  readonly below?: boolean
}

/** Pixels between a label's point and its text when the text starts after or ends before the point. */
export const GAP = 6

/** How far above its point a label's box ends (px): clear of its line's stroke and MARGIN. */
export const LIFT = 6

/** A label's box: its bottom just above the point (its top just under it when `below`), centred on it or beside it as `anchor` says. */
export const labelBox = (p: LabelPoint, size: Size): Rect => ({
  x: p.anchor === "middle" ? p.x - size.width / 2 : p.anchor === "start" ? p.x + GAP : p.x - GAP - size.width,
  y: p.below === true ? p.y + LIFT : p.y - LIFT - size.height,
  width: size.width,
  height: size.height
})

/** The rendered path between two points: a cubic with horizontal tangents (graphLayout's edgePath). */
const along = (a: P, b: P, t: number): P => {
  const dx = (b.x - a.x) / 2
  const u = 1 - t
  const x = u ** 3 * a.x + 3 * u * u * t * (a.x + dx) + 3 * u * t * t * (b.x - dx) + t ** 3 * b.x
  const y = u ** 3 * a.y + 3 * u * u * t * a.y + 3 * u * t * t * b.y + t ** 3 * b.y
  return { x, y }
}

type Step = readonly [number, Anchor]
const MIDDLE: ReadonlyArray<Step> = [[0.5, "middle"], [0.35, "middle"], [0.65, "middle"]]
const NEAR_END: ReadonlyArray<Step> = [[0.9, "end"], [0.78, "end"]]
const NEAR_START: ReadonlyArray<Step> = [[0.1, "start"], [0.22, "start"]]
const REST: ReadonlyArray<Step> = [[0.22, "middle"], [0.78, "middle"], [0.12, "middle"], [0.88, "middle"]]

/** Along a curve, best first: where the edge runs apart from its fan (see LabelledPath), then anywhere. */
const steps = (path: LabelledPath): ReadonlyArray<Step> =>
  path.fanOut === true && path.fanIn !== true
    ? [...NEAR_END, ...MIDDLE, ...NEAR_START, ...REST]
    : path.fanIn === true && path.fanOut !== true
      ? [...NEAR_START, ...MIDDLE, ...NEAR_END, ...REST]
      : [...MIDDLE, ...NEAR_END, ...NEAR_START, ...REST]

/** The other anchors, in the order tried once the preferred ones are taken or crossed. */
const OTHERS: Record<Anchor, ReadonlyArray<Anchor>> = { middle: ["start", "end"], start: ["end", "middle"], end: ["start", "middle"] }

/**
 * Candidate points, best first: the flat runs through layers (long edges), then along each curve, then
 * the curves' points again with the text on their other sides (a descending curve's label clears its
 * line to the right of a point, an ascending one's to the left), then all of these with the text under
 * the point (a steep edge between two close nodes: above it, left and right, are its caller, its
 * callee's neighbour and its own line; under it, left of a descending curve, is clear).
 */
export const candidates = (path: LabelledPath): ReadonlyArray<LabelPoint> => {
  const pts = path.points
  if (path.self) return pts.length === 3 ? [{ x: pts[1]!.x, y: pts[1]!.y - 4, anchor: "middle" }] : []
  const flat: Array<LabelPoint> = []
  const curved: Array<LabelPoint> = []
  const other: Array<LabelPoint> = []
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1]!
    const b = pts[i]!
    if (a.y === b.y && pts.length > 2) flat.push({ x: (a.x + b.x) / 2, y: a.y, anchor: "middle" })
    else {
      for (const [t, preferred] of steps(path)) {
        const anchor: Anchor = preferred === "middle" || b.x >= a.x ? preferred : preferred === "start" ? "end" : "start"
        const at = along(a, b, t)
        curved.push({ ...at, anchor })
        for (const o of OTHERS[anchor]) other.push({ ...at, anchor: o })
      }
    }
  }
  const above = [...flat, ...curved, ...other]
  return [...above, ...above.map((c) => ({ ...c, below: true }))]
}

/** Points along a path as drawn (its curves sampled), for labels to keep off. */
const SAMPLES_PER_CURVE = 24
const sampled = (path: LabelledPath): ReadonlyArray<P> => {
  if (path.self) return []
  const out: Array<P> = []
  for (let i = 1; i < path.points.length; i++) {
    for (let k = 0; k <= SAMPLES_PER_CURVE; k++) out.push(along(path.points[i - 1]!, path.points[i]!, k / SAMPLES_PER_CURVE))
  }
  return out
}

/**
 * What covering costs: a node or another label (per px² of overlap) always more than lines (per piece
 * of a line through the label): numbers may sit on a line only where every clear spot is on a box.
 */
const COVERING = 1000

/** The grid's cell size for the lines' pieces, px. */
const CELL = 40

const inside = (r: Rect, q: P): boolean => q.x > r.x && q.x < r.x + r.width && q.y > r.y && q.y < r.y + r.height

/** Pixels kept between a label and any line's centre: half the widest stroke (5 px) and a little air. */
const MARGIN = 4

/** Whether the segment a–b passes through the rectangle (Liang–Barsky clipping). */
const crosses = (r: Rect, a: P, b: P): boolean => {
  if (inside(r, a) || inside(r, b)) return true
  const dx = b.x - a.x
  const dy = b.y - a.y
  let t0 = 0
  let t1 = 1
  for (const [p, q] of [[-dx, a.x - r.x], [dx, r.x + r.width - a.x], [-dy, a.y - r.y], [dy, r.y + r.height - a.y]] as const) {
    if (p === 0) {
      if (q < 0) return false
    } else {
      const t = q / p
      if (p < 0) t0 = Math.max(t0, t)
      else t1 = Math.min(t1, t)
      if (t0 > t1) return false
    }
  }
  return true
}

const overlap = (a: Rect, b: Rect): number => {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x)
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y)
  return w > 0 && h > 0 ? w * h : 0
}

/** Each path's label point (in the order of `paths`). */
export const placeLabels = (nodes: ReadonlyArray<Rect>, paths: ReadonlyArray<LabelledPath>, sizes: ReadonlyArray<Size | undefined> = []): ReadonlyArray<LabelPoint> => {
  const taken: Array<Rect> = [...nodes]
  // The lines' pieces (chords between samples) in a grid of CELL px: a label box is checked only against
  // the pieces in the cells it covers.
  const pieces: Array<readonly [P, P]> = []
  const grid = new Map<number, Array<number>>()
  const cellKey = (cx: number, cy: number) => cx * 65_536 + cy
  for (const line of paths.map(sampled)) {
    for (let k = 1; k < line.length; k++) {
      const a = line[k - 1]!
      const b = line[k]!
      const at = pieces.push([a, b]) - 1
      for (let cx = Math.floor(Math.min(a.x, b.x) / CELL); cx <= Math.floor(Math.max(a.x, b.x) / CELL); cx++) {
        for (let cy = Math.floor(Math.min(a.y, b.y) / CELL); cy <= Math.floor(Math.max(a.y, b.y) / CELL); cy++) {
          const key = cellKey(cx, cy)
          const cell = grid.get(key)
          if (cell === undefined) grid.set(key, [at])
          else cell.push(at)
        }
      }
    }
  }
  const seen = new Int32Array(pieces.length)
  let stamp = 0
  /** Pieces of any line through `r`. */
  const crossings = (r: Rect): number => {
    stamp++
    let n = 0
    for (let cx = Math.floor(r.x / CELL); cx <= Math.floor((r.x + r.width) / CELL); cx++) {
      for (let cy = Math.floor(r.y / CELL); cy <= Math.floor((r.y + r.height) / CELL); cy++) {
        for (const at of grid.get(cellKey(cx, cy)) ?? []) {
          if (seen[at] === stamp) continue
          seen[at] = stamp
          const [a, b] = pieces[at]!
          if (crosses(r, a, b)) n++
        }
      }
    }
    return n
  }
  const placed: Array<LabelPoint> = []
  // Edges with one good side (a one-sided fan) choose first; edges fanning at both ends take what is left.
  const rank = (p: LabelledPath) => (p.fanOut === true) !== (p.fanIn === true) ? 0 : p.fanOut === true ? 2 : 1
  const order = paths.map((p, i) => [rank(p), i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, i]) => i)
  for (const i of order) {
    const path = paths[i]!
    const size = sizes[i] ?? DEFAULT_LABEL
    const options = candidates(path)
    let best: LabelPoint = options[0] ?? { ...(path.points[0] ?? { x: 0, y: 0 }), anchor: "middle" }
    let bestCost = Number.POSITIVE_INFINITY
    for (const c of options) {
      const box = labelBox(c, size)
      let cost = COVERING * taken.reduce((n, r) => n + overlap(box, r), 0)
      if (cost >= bestCost) continue
      // The line's pieces between samples (chords within a pixel of the curve) through the box, kept a few pixels clear.
      cost += crossings({ x: box.x - MARGIN, y: box.y - MARGIN, width: box.width + 2 * MARGIN, height: box.height + 2 * MARGIN })
      if (cost < bestCost) {
        best = c
        bestCost = cost
        if (cost === 0) break
      }
    }
    taken.push(labelBox(best, size))
    placed[i] = best
  }
  return placed
}
