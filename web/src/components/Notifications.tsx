import type { AlertDetail } from "../api/client.ts"
import { eventTypeLabel } from "../lib/alerts.ts"
import { formatDateTime, formatDuration } from "../lib/format.ts"
import { OutcomeBadge } from "./AlertBits.tsx"

type Delivery = AlertDetail["deliveries"][number]

const Attempts = ({ deliveries }: { readonly deliveries: ReadonlyArray<Delivery> }) =>
  deliveries.length === 0 ? (
    <p className="muted">No delivery attempt yet (the dispatcher sends it within seconds; a channel whose events list leaves this type out gets none).</p>
  ) : (
    <table className="table attempts">
      <thead>
        <tr>
          <th scope="col">Channel</th>
          <th scope="col" className="num">Attempt</th>
          <th scope="col">Outcome</th>
          <th scope="col" className="num">Status</th>
          <th scope="col" className="num">Took</th>
          <th scope="col">At</th>
          <th scope="col">Error</th>
        </tr>
      </thead>
      <tbody>
        {deliveries.map((d) => (
          <tr key={`${d.channelId}-${d.messageId}-${d.attempt}`} data-delivery={d.outcome}>
            <td>{d.channelId}</td>
            <td className="num">{d.attempt}</td>
            <td>
              <OutcomeBadge outcome={d.outcome} />
            </td>
            <td className="num">{d.statusCode ?? "–"}</td>
            <td className="num">{formatDuration(d.durationMs)}</td>
            <td className="mono">{formatDateTime(Date.parse(d.attemptedAt))}</td>
            <td className="wrap">{d.error ?? <span className="muted">–</span>}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )

/** Each notification the alert produced, with the delivery attempts of each channel under it. */
export const Notifications = ({ detail }: { readonly detail: AlertDetail }) => {
  const ids = new Set(detail.notifications.map((n) => n.messageId))
  const orphans = detail.deliveries.filter((d) => !ids.has(d.messageId))
  if (detail.notifications.length === 0 && orphans.length === 0) {
    return <p className="muted">No notification yet: one is written when the alert opens, escalates, repeats after the cool-down, or resolves.</p>
  }
  return (
    <ol className="notifications">
      {detail.notifications.map((n) => (
        <li key={n.messageId} data-notification={n.eventType}>
            <h3>
              {eventTypeLabel(n.eventType)} <span className="muted mono">{n.messageId}</span>
            </h3>
            <p className="muted">
              written {formatDateTime(Date.parse(n.createdAt))}
              {n.dispatchedAt === null ? " · not dispatched yet" : ` · dispatched ${formatDateTime(Date.parse(n.dispatchedAt))}`}
            </p>
            <Attempts deliveries={detail.deliveries.filter((d) => d.messageId === n.messageId)} />
            <details>
              <summary>Payload</summary>
              <pre className="json">{JSON.stringify(n.payload, null, 2)}</pre>
            </details>
        </li>
      ))}
      {orphans.length > 0 && (
        <li>
          <h3>Other attempts</h3>
          <Attempts deliveries={orphans} />
        </li>
      )}
    </ol>
  )
}
