import { Link } from "wouter"
import type { ExecutionDetail } from "../api/client.ts"
import { useHrefWithRange } from "../hooks/useUrlState.ts"
import { formatDateTime, formatDecimal, formatValue, unitOf } from "../lib/format.ts"
import { SeverityBadge } from "./Status.tsx"
import { Tabs } from "./Tabs.tsx"

const Json = ({ value }: { readonly value: unknown }) => <pre className="json">{JSON.stringify(value, null, 2)}</pre>

/** The execution's events, metric points, anomalies and its own fields. */
export const ExecutionTabs = ({ detail: d }: { readonly detail: ExecutionDetail }) => {
  const withRange = useHrefWithRange()
  return (
    <Tabs
      tabs={[
        {
          id: "events",
          label: `Events (${d.events.length})`,
          body: () =>
            d.events.length === 0 ? (
              <p className="muted">
                {d.source === "api"
                  ? `No event. PATCH /api/executions/${d.executionId} with "events" records them.`
                  : "No event: this execution is the root span of an OpenTelemetry trace, whose events are on its spans (select one above)."}
              </p>
            ) : (
              <table className="table">
                <thead>
                  <tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">Type</th><th scope="col">Metadata</th></tr>
                </thead>
                <tbody>
                  {d.events.map((e, i) => (
                    <tr key={i}>
                      <td className="mono">{formatDateTime(Date.parse(e.timestamp), undefined, true)}</td>
                      <th scope="row">{e.eventName}</th>
                      <td>{e.eventType}</td>
                      <td className="mono wrap">{Object.keys(e.metadata).length === 0 ? "" : JSON.stringify(e.metadata)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
        },
        {
          id: "metrics",
          label: `Metric points (${d.metricPoints.length})`,
          body: () =>
            d.metricPoints.length === 0 ? (
              <p className="muted">No metric point carries this trace id.</p>
            ) : (
              <table className="table">
                <thead>
                  <tr><th scope="col">Time</th><th scope="col">Metric</th><th scope="col">Service</th><th scope="col" className="num">Value</th></tr>
                </thead>
                <tbody>
                  {d.metricPoints.map((p, i) => (
                    <tr key={i}>
                      <td className="mono">{formatDateTime(Date.parse(p.time), undefined, true)}</td>
                      <th scope="row">
                        <Link href={withRange(`/metrics?name=${encodeURIComponent(p.name)}&service=${encodeURIComponent(p.serviceName)}`)}>{p.name}</Link>
                      </th>
                      <td>{p.serviceName}</td>
                      <td className="num">{formatValue(p.value, unitOf(p.name))}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
        },
        {
          id: "anomalies",
          label: `Anomalies (${d.anomalies.length})`,
          body: () =>
            d.anomalies.length === 0 ? (
              <p className="muted">No anomaly of {d.serviceName} while this ran, and none carrying its trace id.</p>
            ) : (
              <table className="table">
                <thead>
                  <tr><th scope="col">Window</th><th scope="col">Severity</th><th scope="col">Series</th><th scope="col" className="num">Observed</th><th scope="col" className="num">Expected</th><th scope="col" className="num">z</th><th scope="col">Method</th></tr>
                </thead>
                <tbody>
                  {d.anomalies.map((a, i) => (
                    <tr key={i}>
                      <td className="mono">{formatDateTime(Date.parse(a.windowStart))}</td>
                      <td><SeverityBadge severity={a.severity} /></td>
                      <th scope="row">{a.metricName} · {a.serviceName}{a.operation === "" ? "" : ` · ${a.operation}`}</th>
                      <td className="num">{formatValue(a.observed, unitOf(a.metricName))}</td>
                      <td className="num">{formatValue(a.expected, unitOf(a.metricName))}</td>
                      <td className="num">{a.z === null ? "–" : formatDecimal(a.z)}</td>
                      <td>{a.method}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
        },
        {
          id: "fields",
          label: "Context and attributes",
          body: () => (
            <div className="analysis-grid">
              <div><h3>Context</h3><Json value={d.context} /><h3>Tags</h3><Json value={d.tags} /><h3>Metadata</h3><Json value={d.metadata} /></div>
              <div><h3>Custom attributes</h3><Json value={d.customAttributes} /><h3>Result</h3><Json value={d.result} /><h3>Errors and warnings</h3><Json value={{ errors: d.errors, warnings: d.warnings }} /></div>
            </div>
          )
        }
      ]}
    />
  )
}
