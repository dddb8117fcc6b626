import { Link, useLocation } from "wouter"
import type { ExecutionSummary } from "../api/client.ts"
import { useHrefWithRange } from "../hooks/useUrlState.ts"
import { serviceColor } from "../lib/colors.ts"
import { formatCalls, formatDateTime, formatDuration, formatGenaiCell } from "../lib/format.ts"
import { ProgressBar, StatusBadge } from "./Status.tsx"

const Genai = ({ e }: { readonly e: ExecutionSummary }) =>
  e.genai === null ? (
    <span className="muted">–</span>
  ) : (
    <span title={`${formatCalls(e.genai.llmCalls)} to models, ${formatCalls(e.genai.toolCalls)} to tools`}>{formatGenaiCell(e.genai)}</span>
  )

/** One row per execution (`data-trace-id`), the operation a link to its page. */
export const ExecutionTable = ({ rows }: { readonly rows: ReadonlyArray<ExecutionSummary> }) => {
  const withRange = useHrefWithRange()
  const [, navigate] = useLocation()
  return (
    <div className="table-wrap">
      <table className="table executions-table">
        <thead>
          <tr>
            <th scope="col">Started</th>
            <th scope="col">Operation</th>
            <th scope="col">Service</th>
            <th scope="col">Status</th>
            <th scope="col" className="num">Duration</th>
            <th scope="col">Progress</th>
            <th scope="col">GenAI</th>
            <th scope="col">Trace</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((e) => {
            const href = withRange(`/executions/${e.executionId}`)
            return (
              <tr
                key={e.executionId}
                data-trace-id={e.traceId}
                className="clickable"
                onClick={(ev) => {
                  if (!(ev.target instanceof HTMLElement) || ev.target.closest("a,button") === null) navigate(href)
                }}
              >
                <td className="mono">{formatDateTime(Date.parse(e.startTime))}</td>
                <th scope="row">
                  <Link href={href}>{e.operationName}</Link>
                </th>
                <td>
                  <span className="swatch" style={{ background: serviceColor(e.serviceName) }} aria-hidden="true" />
                  {e.serviceName}
                </td>
                <td>
                  <StatusBadge status={e.status} />
                </td>
                <td className="num">{formatDuration(e.durationMs)}</td>
                <td>
                  {e.status === "active" || e.status === "paused" ? (
                    <>
                      <ProgressBar percent={e.progressPercentage} label={`${e.operationName} progress`} />
                      {e.currentOperation !== null && <span className="muted"> {e.currentOperation}</span>}
                    </>
                  ) : (
                    <span className="muted">–</span>
                  )}
                </td>
                <td>
                  <Genai e={e} />
                </td>
                <td className="mono muted" title={e.traceId}>
                  {e.traceId.slice(0, 8)}…
                </td>
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}
