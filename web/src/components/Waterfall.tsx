import "./waterfall.css"
import { useVirtualizer } from "@tanstack/react-virtual"
import { useEffect, useMemo, useRef, useState } from "react"
import type { KeyboardEvent } from "react"
import { markPainted } from "../perf.ts"
import { serviceColor } from "../lib/colors.ts"
import { formatDuration } from "../lib/format.ts"
import { axisTicks, buildTree, criticalSegments, layoutRows, matchingSpans } from "../lib/waterfall.ts"
import type { Span } from "../lib/waterfall.ts"
import { WaterfallRow } from "./WaterfallRow.tsx"

const ROW_HEIGHT = 26

/**
 * Jaeger's trace timeline: one row per span in tree order on a shared time axis, colour by service,
 * errors marked with a "!" and an outline, the critical path as a dark line through the bars. Rows
 * are virtualised (a 10,000-span trace renders ~40 rows) and reachable by keyboard: arrows move,
 * ←/→ collapse and expand, Enter opens the span.
 */
export const Waterfall = ({ spans, selectedId, onSelect }: { readonly spans: ReadonlyArray<Span>; readonly selectedId: string | null; readonly onSelect: (spanId: string | null) => void }) => {
  const tree = useMemo(() => buildTree(spans), [spans])
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(new Set())
  const [query, setQuery] = useState("")
  const layout = useMemo(() => layoutRows(tree, collapsed), [tree, collapsed])
  const path = useMemo(() => criticalSegments(tree), [tree])
  const axis = { startMs: layout.startMs, durationMs: layout.durationMs }
  const matches = useMemo(() => matchingSpans(spans, query), [spans, query])
  const rows = layout.rows
  const [active, setActive] = useState(0)
  const scroller = useRef<HTMLDivElement>(null)
  const virtualizer = useVirtualizer({ count: rows.length, getScrollElement: () => scroller.current, estimateSize: () => ROW_HEIGHT, overscan: 12 })
  const ticks = useMemo(() => axisTicks(layout.durationMs), [layout.durationMs])
  const focusNext = useRef(false)

  useEffect(() => markPainted("waterfall"), [rows])

  // Keep the active row in view and focused after keyboard moves.
  useEffect(() => {
    if (!focusNext.current) return
    focusNext.current = false
    virtualizer.scrollToIndex(active, { align: "auto" })
    requestAnimationFrame(() => scroller.current?.querySelector<HTMLElement>(`[data-index="${active}"]`)?.focus())
  }, [active, virtualizer])

  const toggle = (id: string) => setCollapsed((c) => (c.has(id) ? new Set([...c].filter((x) => x !== id)) : new Set([...c, id])))
  const move = (to: number) => {
    focusNext.current = true
    setActive(Math.max(0, Math.min(rows.length - 1, to)))
  }
  const onKey = (e: KeyboardEvent) => {
    const row = rows[active]
    if (row === undefined) return
    const keys: Record<string, () => void> = {
      ArrowDown: () => move(active + 1),
      ArrowUp: () => move(active - 1),
      PageDown: () => move(active + 20),
      PageUp: () => move(active - 20),
      Home: () => move(0),
      End: () => move(rows.length - 1),
      ArrowRight: () => (row.hasChildren && row.collapsed ? toggle(row.span.spanId) : move(active + 1)),
      ArrowLeft: () => {
        if (row.hasChildren && !row.collapsed) return toggle(row.span.spanId)
        const parent = rows.findIndex((r) => r.span.spanId === row.span.parentSpanId)
        if (parent >= 0) move(parent)
      },
      Enter: () => onSelect(row.span.spanId),
      " ": () => onSelect(row.span.spanId),
      Escape: () => onSelect(null)
    }
    const action = keys[e.key]
    if (action === undefined) return
    e.preventDefault()
    action()
  }
  const findNext = () => {
    const from = active + 1
    const i = [...rows.slice(from), ...rows.slice(0, from)].findIndex((r) => matches.has(r.span.spanId))
    if (i >= 0) move((from + i) % rows.length)
  }

  return (
    <div className="waterfall">
      <div className="wf-toolbar">
        <label className="wf-search">
          <span className="visually-hidden">Find spans</span>
          <input
            type="search"
            placeholder="Find span: name, service or id"
            value={query}
            onChange={(e) => setQuery(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter") {
                e.preventDefault()
                findNext()
              }
            }}
          />
        </label>
        {query.trim() !== "" && (
          <span className="muted" role="status">
            {matches.size} match{matches.size === 1 ? "" : "es"}
            {matches.size > 0 && (
              <button type="button" className="quiet" onClick={findNext}>
                Next
              </button>
            )}
          </span>
        )}
        <button type="button" onClick={() => setCollapsed(new Set(tree.order.filter((o) => o.descendants > 0).map((o) => tree.spans[o.index]!.spanId)))}>
          Collapse all
        </button>
        <button type="button" onClick={() => setCollapsed(new Set())} disabled={collapsed.size === 0}>
          Expand all
        </button>
        <span className="wf-legend">
          <span>
            <span className="legend-critical" aria-hidden="true" /> critical path ({layout.criticalCount})
          </span>
          <span>
            <span className="wf-error" aria-hidden="true">
              !
            </span>{" "}
            error ({layout.errorCount})
          </span>
          {layout.services.slice(0, 12).map((s) => (
            <span key={s}>
              <span className="swatch" style={{ background: serviceColor(s) }} aria-hidden="true" />
              {s}
            </span>
          ))}
        </span>
      </div>
      <div className="wf-header" aria-hidden="true">
        <div className="wf-name">
          {layout.spanCount} span{layout.spanCount === 1 ? "" : "s"}, {layout.services.length} service{layout.services.length === 1 ? "" : "s"}
        </div>
        <div className="wf-track">
          {ticks.map((t) => (
            <span key={t} className="wf-tick" style={{ left: `${layout.durationMs === 0 ? 0 : (t / layout.durationMs) * 100}%` }}>
              {formatDuration(t)}
            </span>
          ))}
        </div>
      </div>
      <div ref={scroller} className="wf-scroll" role="tree" aria-label="Spans of the trace" aria-multiselectable={false} onKeyDown={onKey}>
        <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
          {virtualizer.getVirtualItems().map((v) => {
            const row = rows[v.index]!
            return (
              <div key={row.span.spanId} className="wf-slot" style={{ transform: `translateY(${v.start}px)`, height: ROW_HEIGHT }}>
                <WaterfallRow
                  row={row}
                  index={v.index}
                  count={rows.length}
                  selected={row.span.spanId === selectedId}
                  active={v.index === active}
                  match={matches.has(row.span.spanId)}
                  path={path.get(row.span.spanId)}
                  axis={axis}
                  onSelect={() => {
                    setActive(v.index)
                    onSelect(row.span.spanId === selectedId ? null : row.span.spanId)
                  }}
                  onToggle={() => toggle(row.span.spanId)}
                />
              </div>
            )
          })}
        </div>
      </div>
    </div>
  )
}
