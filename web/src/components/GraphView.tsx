import { useMemo, useState } from "react"
import type { KeyboardEvent } from "react"
import { DEFAULT_LAYOUT, edgePath, layoutGraph } from "../lib/graphLayout.ts"
import type { LayoutOptions } from "../lib/graphLayout.ts"
import { GAP, LIFT } from "../lib/edgeLabels.ts"

// A call graph in SVG on the layered layout: nodes and edges both reachable by keyboard (Tab, then
// Enter), each edge naming its numbers to a screen reader; errors drawn dashed, marked ⚠ and written
// out, never by colour alone.

export type NodeKind = "service" | "agent" | "tool" | "model"

export interface GraphNode {
  readonly id: string
  readonly kind: NodeKind
  readonly title: string
  /** Up to two short lines under the title (requests, p95, tokens…). */
  readonly lines: ReadonlyArray<string>
  /** Has errors: drawn with a dashed, thicker border and a ⚠. */
  readonly bad: boolean
  readonly description: string
  readonly color?: string
}

export interface GraphEdge {
  readonly source: string
  readonly target: string
  readonly calls: number
  /** One or two lines drawn on the edge. */
  readonly label: ReadonlyArray<string>
  readonly bad: boolean
  readonly description: string
}

const LINE = 14

export const edgeKey = (e: { readonly source: string; readonly target: string }) => `${e.source}->${e.target}`

const activate = (f: () => void) => (e: KeyboardEvent) => {
  if (e.key !== "Enter" && e.key !== " ") return
  e.preventDefault()
  f()
}

const Shape = ({ kind, w, h, bad }: { readonly kind: NodeKind; readonly w: number; readonly h: number; readonly bad: boolean }) => {
  const cls = `node-shape${bad ? " bad" : ""}`
  if (kind === "tool") {
    const c = 12
    return <polygon className={cls} points={`${c},0 ${w - c},0 ${w},${h / 2} ${w - c},${h} ${c},${h} 0,${h / 2}`} />
  }
  if (kind === "model") return <rect className={cls} width={w} height={h} rx={h / 2} />
  return <rect className={cls} width={w} height={h} rx={kind === "agent" ? 14 : 6} />
}

export const GraphView = ({ nodes, edges, selected, onSelectEdge, onOpenNode, label, options }: {
  readonly nodes: ReadonlyArray<GraphNode>
  readonly edges: ReadonlyArray<GraphEdge>
  readonly selected: string | null
  readonly onSelectEdge: (key: string | null) => void
  readonly onOpenNode?: (id: string) => void
  readonly label: string
  readonly options?: Partial<LayoutOptions>
}) => {
  const opts = useMemo(() => ({ ...DEFAULT_LAYOUT, ...options }), [options])
  // Label sizes estimated from their text (12 px system font): the layout keeps labels apart with them.
  const sizes = useMemo(() => edges.map((e) => ({ width: Math.max(...e.label.map((l) => l.length)) * 6.9 + 8, height: e.label.length * LINE })), [edges])
  const layout = useMemo(() => layoutGraph(nodes.map((n) => n.id), edges, opts, sizes), [nodes, edges, opts, sizes])
  const [focused, setFocused] = useState<string | null>(null)
  const byId = useMemo(() => new Map(nodes.map((n) => [n.id, n])), [nodes])
  const maxCalls = Math.max(1, ...edges.map((e) => e.calls))
  const width = (calls: number) => 1.5 + (3.5 * Math.log1p(calls)) / Math.log1p(maxCalls)
  return (
    <div className="graph-scroll">
      <svg className="graph" width={layout.width} height={layout.height + 10} viewBox={`0 -10 ${layout.width} ${layout.height + 10}`} role="group" aria-label={label}>
        <defs>
          {["plain", "bad", "on"].map((m) => (
            <marker key={m} id={`arrow-${m}`} className={`arrow arrow-${m}`} viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="11" markerHeight="11" orient="auto-start-reverse">
              <path d="M0,0 L10,5 L0,10 z" />
            </marker>
          ))}
        </defs>
        <g aria-hidden="true">
          {layout.edges.map((p, i) => {
            const e = edges[i]!
            const k = edgeKey(e)
            const on = k === selected || k === focused
            return (
              <path
                key={k}
                className={`edge-line${e.bad ? " bad" : ""}${on ? " on" : ""}`}
                d={edgePath(p.points, p.self)}
                strokeWidth={on ? width(e.calls) + 1.5 : width(e.calls)}
                markerEnd={`url(#arrow-${on ? "on" : e.bad ? "bad" : "plain"})`}
              />
            )
          })}
        </g>
        {layout.nodes.map((p) => {
          const n = byId.get(p.id)
          if (n === undefined) return null
          return (
            <g
              key={p.id}
              className={`node node-${n.kind}${onOpenNode === undefined ? "" : " clickable"}`}
              transform={`translate(${p.x},${p.y})`}
              data-node={p.id}
              tabIndex={0}
              role={onOpenNode === undefined ? "img" : "link"}
              aria-label={n.description}
              onClick={onOpenNode === undefined ? undefined : () => onOpenNode(p.id)}
              onKeyDown={onOpenNode === undefined ? undefined : activate(() => onOpenNode(p.id))}
            >
              <Shape kind={n.kind} w={p.width} h={p.height} bad={n.bad} />
              {n.color !== undefined && <rect className="node-stripe" x={4} y={8} width={4} height={p.height - 16} rx={2} fill={n.color} />}
              {n.kind !== "service" && (
                <text className="node-kind" x={p.width - 10} y={13} textAnchor="end">
                  {n.kind}
                </text>
              )}
              <text className="node-title" x={14} y={20}>
                {n.title.length > 22 ? `${n.title.slice(0, 21)}…` : n.title}
              </text>
              {n.lines.map((l, i) => (
                <text key={i} className={`node-line${n.bad && l.startsWith("⚠") ? " bad" : ""}`} x={14} y={38 + i * 15}>
                  {l}
                </text>
              ))}
            </g>
          )
        })}
        {layout.edges.map((p, i) => {
          const e = edges[i]!
          const k = edgeKey(e)
          const on = k === selected
          return (
            <g
              key={k}
              className={`edge-label${e.bad ? " bad" : ""}${on ? " on" : ""}`}
              data-edge={k}
              tabIndex={0}
              role="button"
              aria-pressed={on}
              aria-label={e.description}
              onFocus={() => setFocused(k)}
              onBlur={() => setFocused((f) => (f === k ? null : f))}
              onMouseEnter={() => setFocused(k)}
              onMouseLeave={() => setFocused((f) => (f === k ? null : f))}
              onClick={() => onSelectEdge(on ? null : k)}
              onKeyDown={activate(() => onSelectEdge(on ? null : k))}
            >
              {e.label.map((l, j) => (
                <text
                  key={j}
                  x={p.label.anchor === "middle" ? p.label.x : p.label.anchor === "start" ? p.label.x + GAP : p.label.x - GAP}
                  y={p.label.below === true ? p.label.y + LIFT - 3 + (j + 1) * LINE : p.label.y - LIFT - 3 - (e.label.length - 1 - j) * LINE}
                  textAnchor={p.label.anchor}
                >
                  {l}
                </text>
              ))}
            </g>
          )
        })}
      </svg>
    </div>
  )
}
