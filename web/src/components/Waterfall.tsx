import "./waterfall.css"
import { useVirtualizer } from "@tanstack/react-virtual"
import { useEffect, useMemo, useRef, useState } from "react"
import type { KeyboardEvent } from "react"
import { markPainted } from "../perf.ts"
import { serviceColor } from "../lib/colors.ts"
import { formatDuration } from "../lib/format.ts"
import { axisTicks, buildTree, criticalSegments, layoutRows, matchingSpans } from "../lib/waterfall.ts"
import type { Row, Span } from "../lib/waterfall.ts"

const ROW_HEIGHT = 26
/** Indentation stops growing here: a 10,000-deep chain must still show its names. */
const MAX_INDENT_DEPTH = 24

/** Where the duration goes: after the bar, before it, or inside its end when the bar fills the axis. */
const labelPlace = (row: Row) => {
  const after = 1 - (row.left + row.width)
  if (after >= 0.08) return { style: { left: `${(row.left + row.width) * 100 + 0.5}%` }, inside: false }
  if (row.left >= 0.08) return { style: { right: `${after * 100 + row.width * 100 + 0.5}%` }, inside: false }
  return { style: { right: `${after * 100 + 0.3}%` }, inside: true }
}

const WaterfallRow = ({ row, index, count, selected, active, match, path, axis, onSelect, onToggle }: {
  readonly row: Row
  /** The critical path's intervals inside this span (epoch ms). */
  readonly path: ReadonlyArray<readonly [number, number]> | undefined
  readonly axis: { readonly startMs: number; readonly durationMs: number }
  readonly index: number
  readonly count: number
  readonly selected: boolean
  readonly active: boolean
  readonly match: boolean
  readonly onSelect: () => void
  readonly onToggle: () => void
}) => {
  const s = row.span
  const color = serviceColor(s.serviceName)
  const label = labelPlace(row)
  const at = (ms: number) => (axis.durationMs === 0 ? 0 : ((ms - axis.startMs) / axis.durationMs) * 100)
  return (
    <div
      role="treeitem"
      aria-level={row.depth + 1}
      aria-setsize={count}
      aria-posinset={index + 1}
      aria-selected={selected}
      aria-expanded={row.hasChildren ? !row.collapsed : undefined}
      aria-label={`${s.serviceName} ${s.name}, ${formatDuration(s.durationMs)}${row.error ? ", error" : ""}${row.critical ? ", on the critical path" : ""}`}
      tabIndex={active ? 0 : -1}
      data-index={index}
      data-span-id={s.spanId}
      data-critical={row.critical ? "true" : undefined}
      className={`wf-row${selected ? " selected" : ""}${match ? " match" : ""}${row.critical ? " critical" : ""}`}
      onClick={onSelect}
    >
      <div className="wf-name" style={{ paddingLeft: `${Math.min(row.depth, MAX_INDENT_DEPTH) * 14 + 4}px` }}>
        {row.hasChildren ? (
          <button
            type="button"
            tabIndex={-1}
            className="wf-toggle"
            aria-label={row.collapsed ? `Expand (${row.hiddenDescendants} hidden)` : "Collapse"}
            onClick={(e) => {
              e.stopPropagation()
              onToggle()
            }}
          >
            {row.collapsed ? "▸" : "▾"}
          </button>
        ) : (
          <span className="wf-toggle" />
        )}
        <span className="wf-service-mark" style={{ background: color }} aria-hidden="true" />
        {row.error && (
          <span className="wf-error" title={s.statusMessage ?? "error"}>
            <span aria-hidden="true">!</span>
          </span>
        )}
        <span className="wf-service">{s.serviceName}</span>
        <span className="wf-op">{s.name}</span>
        {row.collapsed && <span className="wf-hidden">+{row.hiddenDescendants}</span>}
      </div>
      <div className="wf-track">
        <div className={`wf-bar${row.error ? " error" : ""}`} style={{ left: `${row.left * 100}%`, width: `max(${row.width * 100}%, 2px)`, background: color }} />
        {path?.map(([from, to]) => (
          <span key={from} className="wf-critical" aria-hidden="true" style={{ left: `${at(from)}%`, width: `max(${at(to) - at(from)}%, 1px)` }} />
        ))}
        <span className={`wf-duration${label.inside ? " inside" : ""}`} style={label.style}>
          {formatDuration(s.durationMs)}
        </span>
      </div>
    </div>
  )
}

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
