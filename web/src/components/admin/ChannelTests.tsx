import { useMutation, useQuery } from "@tanstack/react-query"
import { api } from "../../api/client.ts"
import type { Settings } from "../../api/client.ts"
import { formatDateTime, formatDuration } from "../../lib/format.ts"
import { OutcomeBadge } from "../AlertBits.tsx"
import { ErrorBox } from "../Banner.tsx"

type Channel = Settings["channels"][number]

/** One saved channel and its "send a test notification" button, the attempt's result under it. */
const ChannelTest = ({ tenant, channel }: { readonly tenant: string; readonly channel: Channel }) => {
  const test = useMutation({ mutationFn: () => api.admin.testChannel(tenant, channel.id) })
  const r = test.data
  return (
    <li className="channel" data-channel={channel.id}>
      <div className="card-head">
        <h3>
          <code>{channel.id}</code> <span className="muted">{channel.type}</span>
          {channel.type === "webhook" && channel.enabled === false && (
            <span className="badge badge-muted">
              <span aria-hidden="true">⊘</span> disabled
            </span>
          )}
        </h3>
        <button type="button" data-action="test-channel" disabled={test.isPending} onClick={() => test.mutate()}>
          {test.isPending ? "Sending…" : "Send a test notification"}
        </button>
      </div>
      <p className="muted">
        {channel.type === "webhook" ? channel.url : "writes each notification to the service's log"}
        {channel.events === undefined ? " · every event" : ` · events: ${channel.events.join(", ")}`}
      </p>
      {test.error !== null && <ErrorBox error={test.error} />}
      {r !== undefined && (
        <div className="test-result" role="status" data-outcome={r.outcome}>
          <OutcomeBadge outcome={r.outcome} /> <span>status {r.statusCode ?? "–"}</span> · <span>took {formatDuration(r.durationMs)}</span> ·{" "}
          <span className="muted">{formatDateTime(Date.parse(r.attemptedAt))}</span>
          {r.error !== null && (
            <p className="field-error">
              <span aria-hidden="true">✕ </span>
              {r.error}
            </p>
          )}
        </div>
      )}
    </li>
  )
}

/** The tenant's saved channels, each with a test through the real delivery path (one attempt, recorded). */
export const ChannelTests = ({ tenant }: { readonly tenant: string }) => {
  const settings = useQuery({ queryKey: ["admin", "settings", tenant], queryFn: () => api.admin.settings(tenant), refetchOnWindowFocus: false })
  if (settings.error !== null) return <ErrorBox error={settings.error} />
  if (settings.data === undefined) return <p className="muted" role="status">Loading the channels…</p>
  const channels = settings.data.channels
  return channels.length === 0 ? (
    <p className="muted">No channel saved: add one in Settings, save, then test it here.</p>
  ) : (
    <>
      <p className="muted">A test sends a signed “test” event through the same path as an alert's notification: one attempt, no retry, recorded with the others.</p>
      <ul className="list-plain">
        {channels.map((c) => (
          <ChannelTest key={c.id} tenant={tenant} channel={c} />
        ))}
      </ul>
    </>
  )
}
