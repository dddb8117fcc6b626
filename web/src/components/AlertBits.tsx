import { useMutation, useQueryClient } from "@tanstack/react-query"
import { api, ApiError } from "../api/client.ts"
import { eventTypeLabel } from "../lib/alerts.ts"

// An alert's state and type as words with a symbol (never colour alone), and its acknowledge button.

const STATE: Readonly<Record<string, { readonly icon: string; readonly tone: string }>> = {
  open: { icon: "●", tone: "bad" },
  acknowledged: { icon: "◐", tone: "info" },
  resolved: { icon: "✓", tone: "ok" }
}

export const AlertStateBadge = ({ state }: { readonly state: string }) => {
  const s = STATE[state] ?? { icon: "•", tone: "muted" }
  return (
    <span className={`badge badge-${s.tone}`}>
      <span aria-hidden="true">{s.icon}</span> {state}
    </span>
  )
}

export const EventType = ({ type }: { readonly type: string }) => (
  <span className="event-type" title={type}>
    {eventTypeLabel(type)}
  </span>
)

const OUTCOME: Readonly<Record<string, { readonly icon: string; readonly tone: string }>> = {
  delivered: { icon: "✓", tone: "ok" },
  retrying: { icon: "↻", tone: "warn" },
  failed: { icon: "✕", tone: "bad" },
  gone: { icon: "⊘", tone: "bad" },
  refused: { icon: "⊘", tone: "bad" }
}

/** A delivery attempt's outcome: delivered, retrying, failed, gone (410) or refused (destination not allowed). */
export const OutcomeBadge = ({ outcome }: { readonly outcome: string }) => {
  const o = OUTCOME[outcome] ?? { icon: "•", tone: "muted" }
  return (
    <span className={`badge badge-${o.tone}`}>
      <span aria-hidden="true">{o.icon}</span> {outcome}
    </span>
  )
}

/** Why an acknowledgement failed, in words an operator can act on. */
export const ackRefusal = (e: unknown): string => {
  if (!(e instanceof ApiError)) return "The alert could not be acknowledged."
  if (e.status === 403) return `This key may not acknowledge alerts (403: ${e.message}). An operator can create a key with the scope for it in Admin.`
  if (e.status === 409) return `Not acknowledged: ${e.message}.`
  if (e.status === 404) return "This alert no longer exists."
  return `Not acknowledged: ${e.status === 0 ? e.message : `${e.status} ${e.message}`}.`
}

/** Acknowledge (`data-action="ack"`): shown for open alerts; the refusal, if any, right beside it. */
export const AckButton = ({ id, state, label }: { readonly id: string; readonly state: string; readonly label: string }) => {
  const client = useQueryClient()
  const ack = useMutation({
    mutationFn: () => api.ack(id),
    onSuccess: () => client.invalidateQueries({ predicate: (q) => q.queryKey[0] === "alerts" || q.queryKey[0] === "alert" })
  })
  if (state !== "open") return null
  return (
    <span className="ack">
      <button type="button" data-action="ack" disabled={ack.isPending} aria-label={`Acknowledge ${label}`} onClick={() => ack.mutate()}>
        {ack.isPending ? "Acknowledging…" : "Acknowledge"}
      </button>
      {ack.error !== null && (
        <span className="field-error ack-error" role="alert">
          <span aria-hidden="true">✕ </span>
          {ackRefusal(ack.error)}
        </span>
      )}
    </span>
  )
}
