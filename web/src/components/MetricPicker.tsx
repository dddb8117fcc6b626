import { Fragment, useState } from "react"
import type { MetricNames } from "../api/client.ts"
import { useNow } from "../hooks/useNow.ts"
import { formatAgo, formatCount } from "../lib/format.ts"

/** A dotted name that may wrap after each dot (genai.model. | errorRate), not inside a word. */
const breakAfterDots = (name: string) =>
  name.split(".").map((part, i, all) => (
    <Fragment key={i}>
      {part}
      {i < all.length - 1 && (
        <>
          .<wbr />
        </>
      )}
    </Fragment>
  ))

/** The tenant's metrics in the range, filterable; the detector's ones say they can draw a band. */
export const MetricPicker = ({ metrics, selected, onSelect }: { readonly metrics: MetricNames["metrics"]; readonly selected: string | null; readonly onSelect: (name: string) => void }) => {
  const [filter, setFilter] = useState("")
  const now = useNow(10_000)
  const shown = metrics.filter((m) => m.name.toLowerCase().includes(filter.trim().toLowerCase()))
  return (
    <nav className="card metric-picker" aria-label="Metrics">
      <label>
        <span className="visually-hidden">Filter metrics</span>
        <input type="search" placeholder={`Filter ${metrics.length} metrics`} value={filter} onChange={(e) => setFilter(e.target.value)} />
      </label>
      <ul>
        {shown.map((m) => (
          <li key={m.name}>
            <button type="button" aria-current={m.name === selected ? "true" : undefined} onClick={() => onSelect(m.name)}>
              <span className="metric-name">{breakAfterDots(m.name)}</span>
              <span className="muted metric-meta">
                {m.services.length} service{m.services.length === 1 ? "" : "s"} ·{" "}
                {m.points === 0 && m.windowed ? (
                  <span title="Derived by the detector (from spans, or GenAI usage): no raw points, its windows are drawn">windows only</span>
                ) : (
                  `${formatCount(m.points, true)} point${m.points === 1 ? "" : "s"}`
                )}
                {m.lastSeen !== null && ` · ${formatAgo(Date.parse(m.lastSeen), now)}`}
              </span>
              {m.windowed && <span className="badge badge-info metric-band" title="The detector has windows for it: its expected band can be drawn">band</span>}
            </button>
          </li>
        ))}
        {shown.length === 0 && <li className="muted">No metric matches.</li>}
      </ul>
    </nav>
  )
}
