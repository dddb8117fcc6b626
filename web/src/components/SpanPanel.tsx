import { useEffect, useRef } from "react"
import { serviceColor } from "../lib/colors.ts"
import { formatCount, formatDateTime, formatDuration } from "../lib/format.ts"
import { STATUS_ERROR } from "../lib/waterfall.ts"
import type { Span } from "../lib/waterfall.ts"

const KINDS = ["unspecified", "internal", "server", "client", "producer", "consumer"]
const STATUS = ["unset", "ok", "error"]

interface SpanEvent {
  readonly name: string
  readonly timeMs: number | null
  readonly attributes: Readonly<Record<string, unknown>>
}

/** Span events as stored (`{name, timeMs, attributes}`), tolerating other shapes rather than failing. */
export const spanEvents = (events: unknown): ReadonlyArray<SpanEvent> =>
  Array.isArray(events)
    ? events.map((e: unknown) => {
        const o = typeof e === "object" && e !== null ? (e as Record<string, unknown>) : {}
        const time = typeof o.timeMs === "number" ? o.timeMs : typeof o.time === "string" ? Date.parse(o.time) : null
        const attributes = typeof o.attributes === "object" && o.attributes !== null ? (o.attributes as Record<string, unknown>) : {}
        return { name: typeof o.name === "string" ? o.name : "event", timeMs: time, attributes }
      })
    : []

const show = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v))

const KeyValues = ({ values, label }: { readonly values: Readonly<Record<string, unknown>>; readonly label: string }) => {
  const entries = Object.entries(values).sort(([a], [b]) => a.localeCompare(b))
  if (entries.length === 0) return <p className="muted">None.</p>
  return (
    <table className="kv" aria-label={label}>
      <tbody>
        {entries.map(([k, v]) => (
          <tr key={k}>
            <th scope="row">{k}</th>
            <td className="mono">{show(v)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

/** Everything about one span: timing against the trace, status, attributes, events, GenAI usage. */
export const SpanPanel = ({ span, traceStartMs, onClose }: { readonly span: Span; readonly traceStartMs: number; readonly onClose: () => void }) => {
  const heading = useRef<HTMLHeadingElement>(null)
  useEffect(() => heading.current?.focus(), [span.spanId])
  const start = Date.parse(span.startTime)
  const error = span.statusCode === STATUS_ERROR
  const events = spanEvents(span.events)
  const g = span.genai
  return (
    <aside className="card span-panel" aria-labelledby="span-title" onKeyDown={(e) => e.key === "Escape" && onClose()}>
      <div className="span-panel-head">
        <h2 id="span-title" tabIndex={-1} ref={heading}>
          <span className="swatch" style={{ background: serviceColor(span.serviceName) }} aria-hidden="true" />
          {span.name}
        </h2>
        <button type="button" className="quiet" aria-label="Close the span details" onClick={onClose}>
          ✕
        </button>
      </div>
      <p className={error ? "badge badge-bad" : span.statusCode === 1 ? "badge badge-ok" : "badge badge-muted"}>
        <span aria-hidden="true">{error ? "!" : span.statusCode === 1 ? "✓" : "•"}</span> status {STATUS[span.statusCode] ?? span.statusCode}
        {span.statusMessage !== null && `: ${span.statusMessage}`}
      </p>
      <dl className="facts">
        <dt>Service</dt>
        <dd>{span.serviceName}</dd>
        <dt>Kind</dt>
        <dd>{KINDS[span.kind] ?? span.kind}</dd>
        <dt>Start</dt>
        <dd>
          {formatDateTime(start, undefined, true)} <span className="muted">(+{formatDuration(start - traceStartMs)})</span>
        </dd>
        <dt>Duration</dt>
        <dd>{formatDuration(span.durationMs)}</dd>
        <dt>Self time</dt>
        <dd>{formatDuration(span.selfTimeMs)}</dd>
        <dt>On the critical path</dt>
        <dd>{span.criticalPathMs > 0 ? formatDuration(span.criticalPathMs) : "no"}</dd>
        <dt>Span id</dt>
        <dd className="mono">{span.spanId}</dd>
        <dt>Parent</dt>
        <dd className="mono">{span.parentSpanId ?? "none (root)"}</dd>
        <dt>Children</dt>
        <dd>{span.children.length}</dd>
      </dl>
      {g !== null && (
        <>
          <h3>GenAI</h3>
          <dl className="facts">
            {g.operation !== null && (<><dt>Operation</dt><dd>{g.operation}</dd></>)}
            {g.agentName !== null && (<><dt>Agent</dt><dd>{g.agentName}</dd></>)}
            {(g.responseModel ?? g.requestModel) !== null && (<><dt>Model</dt><dd>{g.responseModel ?? g.requestModel}{g.provider !== null && ` (${g.provider})`}</dd></>)}
            {g.toolName !== null && (<><dt>Tool</dt><dd>{g.toolName}</dd></>)}
            {(g.inputTokens !== null || g.outputTokens !== null) && (<><dt>Tokens</dt><dd>{formatCount(g.inputTokens ?? 0)} in, {formatCount(g.outputTokens ?? 0)} out</dd></>)}
            <dt>Cost</dt>
            <dd>{g.costUsd === null ? "unpriced" : `$${g.costUsd.toFixed(4)}`}</dd>
          </dl>
        </>
      )}
      <h3>Attributes</h3>
      <KeyValues values={span.attributes} label="Span attributes" />
      <h3>Events ({events.length})</h3>
      {events.length === 0 ? (
        <p className="muted">None.</p>
      ) : (
        <ol className="events">
          {events.map((e, i) => (
            <li key={i}>
              <strong>{e.name}</strong> {e.timeMs !== null && <span className="muted">+{formatDuration(e.timeMs - start)}</span>}
              {Object.keys(e.attributes).length > 0 && <KeyValues values={e.attributes} label={`Attributes of event ${e.name}`} />}
            </li>
          ))}
        </ol>
      )}
    </aside>
  )
}
