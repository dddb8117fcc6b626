import { serviceColor } from "../lib/colors.ts"
import { formatDuration } from "../lib/format.ts"
import type { Row } from "../lib/waterfall.ts"

/** Indentation stops growing here: a 10,000-deep chain must still show its names. */
const MAX_INDENT_DEPTH = 24

/** Where the duration goes: after the bar, before it, or inside its end when the bar fills the axis. */
const labelPlace = (row: Row) => {
  const after = 1 - (row.left + row.width)
  if (after >= 0.08) return { style: { left: `${(row.left + row.width) * 100 + 0.5}%` }, inside: false }
  if (row.left >= 0.08) return { style: { right: `${after * 100 + row.width * 100 + 0.5}%` }, inside: false }
  return { style: { right: `${after * 100 + 0.3}%` }, inside: true }
}

/** One span: name column (indent, toggle, service, error mark) and its bar with the critical path over it. */
export const WaterfallRow = ({ row, index, count, selected, active, match, path, axis, onSelect, onToggle }: {
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
