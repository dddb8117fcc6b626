// Where each edge's numbers go: a point of its path with the label drawn just above it, chosen so
// that labels cover no node and no other label. Edges fan out of a caller and into a callee, where a
// label at the middle of each would collide; the first clear spot along the edge wins (the middle,
// then further out), and when none is clear, the one that overlaps least. Pure and deterministic.

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
}

const GAP = 6

/** A label's box: its bottom just above the point, centred on it or beside it as `anchor` says. */
export const labelBox = (p: LabelPoint, size: Size): Rect => ({
  x: p.anchor === "middle" ? p.x - size.width / 2 : p.anchor === "start" ? p.x + GAP : p.x - GAP - size.width,
  y: p.y - 4 - size.height,
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

/** Candidate points, best first: the flat runs through layers (long edges), then along each curve. */
export const candidates = (path: LabelledPath): ReadonlyArray<LabelPoint> => {
  const pts = path.points
  if (path.self) return pts.length === 3 ? [{ x: pts[1]!.x, y: pts[1]!.y - 4, anchor: "middle" }] : []
  const flat: Array<LabelPoint> = []
  const curved: Array<LabelPoint> = []
  for (let i = 1; i < pts.length; i++) {
    const a = pts[i - 1]!
    const b = pts[i]!
    if (a.y === b.y && pts.length > 2) flat.push({ x: (a.x + b.x) / 2, y: a.y, anchor: "middle" })
    else for (const [t, anchor] of steps(path)) curved.push({ ...along(a, b, t), anchor: anchor === "middle" || b.x >= a.x ? anchor : anchor === "start" ? "end" : "start" })
  }
  return [...flat, ...curved]
}

const overlap = (a: Rect, b: Rect): number => {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x)
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y)
  return w > 0 && h > 0 ? w * h : 0
}

/** Each path's label point (in the order of `paths`). */
export const placeLabels = (nodes: ReadonlyArray<Rect>, paths: ReadonlyArray<LabelledPath>, sizes: ReadonlyArray<Size | undefined> = []): ReadonlyArray<LabelPoint> => {
  const taken: Array<Rect> = [...nodes]
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
      const cost = taken.reduce((n, r) => n + overlap(box, r), 0)
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
