import { useEffect, useState } from "react"
import { getAt, setAt } from "../../lib/settingsForm.ts"
import type { PlacedIssues } from "../../lib/settingsForm.ts"
import { Field, FieldErrors } from "./Field.tsx"

type Doc = unknown

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
const str = (v: unknown) => (typeof v === "string" ? v : "")

/**
 * A webhook's secret: the service answers it masked, an opaque value sent back unchanged keeps the
 * stored secret. The field starts empty; typing replaces the secret, emptying it again keeps the old one.
 */
const SecretInput = ({ value, original, onChange, ...rest }: {
  readonly value: unknown
  readonly original: unknown
  readonly onChange: (v: string | undefined) => void
  readonly id: string
  readonly "aria-invalid": boolean
  readonly "aria-describedby": string
}) => {
  const kept = original !== undefined && value === original
  const [text, setText] = useState(kept ? "" : str(value))
  return (
    <input
      {...rest}
      type="password"
      autoComplete="new-password"
      spellCheck={false}
      placeholder={original === undefined ? "a shared secret for the HMAC signature" : "unchanged (the stored secret)"}
      value={text}
      onChange={(e) => {
        setText(e.target.value)
        onChange(e.target.value === "" && original !== undefined ? str(original) : e.target.value)
      }}
    />
  )
}

/** A list typed as comma-separated words, kept as typed while typing ("a, " stays). */
const EventsInput = ({ value, onChange, ...rest }: {
  readonly value: ReadonlyArray<string>
  readonly onChange: (list: ReadonlyArray<string>) => void
  readonly id: string
  readonly "aria-invalid": boolean
  readonly "aria-describedby": string
}) => {
  const split = (t: string) => t.split(",").map((s) => s.trim()).filter((s) => s !== "")
  const [text, setText] = useState(value.join(", "))
  const joined = value.join(",")
  useEffect(() => {
    if (split(text).join(",") !== joined) setText(value.join(", "))
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [joined])
  return (
    <input
      {...rest}
      value={text}
      spellCheck={false}
      placeholder="all"
      onChange={(e) => {
        setText(e.target.value)
        onChange(split(e.target.value))
      }}
    />
  )
}

/** The notification channels: webhooks (url, secret, events, enabled) and the log channel. */
export const ChannelsEditor = ({ doc, original, onChange, placed }: { readonly doc: Doc; readonly original: Doc; readonly onChange: (next: Doc) => void; readonly placed: PlacedIssues }) => {
  const raw = getAt(doc, ["channels"])
  const channels: ReadonlyArray<unknown> = Array.isArray(raw) ? raw : []
  const saved = getAt(original, ["channels"])
  const savedById = new Map((Array.isArray(saved) ? saved : []).filter(isObject).map((c) => [str(c.id), c]))
  const write = (next: ReadonlyArray<unknown>) => onChange(setAt(doc, ["channels"], next))
  const set = (i: number, field: string, v: unknown) => write(channels.map((c, j) => (j === i ? setAt(c, [field], v) : c)))
  return (
    <fieldset data-field="channels">
      <legend>Notification channels</legend>
      <FieldErrors id="channels-errors" messages={placed.byField.get("channels")} />
      {channels.length === 0 && <p className="muted">No channel: alerts are stored and shown here, but nobody is notified.</p>}
      {channels.map((c, i) => {
        const at = (f: string) => `channels.${i}.${f}`
        const type = str(getAt(c, ["type"]))
        const id = str(getAt(c, ["id"]))
        const groupErrors = placed.byField.get(`channels.${i}`)
        const events = getAt(c, ["events"])
        return (
          <div key={i} className={`channel${groupErrors === undefined ? "" : " has-error"}`} data-field={`channels.${i}`}>
            <div className="card-head">
              <h3>
                {type === "webhook" ? "Webhook" : type === "log" ? "Log" : "Channel"} {id === "" ? `#${i + 1}` : <code>{id}</code>}
              </h3>
              <button type="button" onClick={() => write(channels.filter((_, j) => j !== i))} aria-label={`Remove channel ${id || i + 1}`}>
                Remove
              </button>
            </div>
            <FieldErrors id={`ch-${i}-errors`} messages={groupErrors} />
            <div className="settings-grid">
              <Field field={at("id")} label="Id" errors={placed.byField.get(at("id"))}>
                {(p) => <input {...p} value={id} spellCheck={false} onChange={(e) => set(i, "id", e.target.value)} />}
              </Field>
              <Field field={at("type")} label="Type" errors={placed.byField.get(at("type"))}>
                {(p) => (
                  <select {...p} value={type} onChange={(e) => set(i, "type", e.target.value)}>
                    <option value="webhook">webhook</option>
                    <option value="log">log</option>
                    {type !== "webhook" && type !== "log" && <option value={type}>{type}</option>}
                  </select>
                )}
              </Field>
              {type === "webhook" && (
                <>
                  <Field field={at("url")} label="URL" hint="https:// public address (private ones are refused)" errors={placed.byField.get(at("url"))}>
                    {(p) => <input {...p} type="url" value={str(getAt(c, ["url"]))} spellCheck={false} onChange={(e) => set(i, "url", e.target.value)} />}
                  </Field>
                  <Field field={at("secret")} label="Secret" hint="signs each delivery (HMAC-SHA256); write-only" errors={placed.byField.get(at("secret"))}>
                    {(p) => <SecretInput {...p} value={getAt(c, ["secret"])} original={savedById.get(id)?.secret} onChange={(v) => set(i, "secret", v)} />}
                  </Field>
                  <Field field={at("enabled")} label="Enabled" hint="off after a 410 Gone; on to deliver again" errors={placed.byField.get(at("enabled"))}>
                    {(p) => <input {...p} type="checkbox" checked={getAt(c, ["enabled"]) !== false} onChange={(e) => set(i, "enabled", e.target.checked ? undefined : false)} />}
                  </Field>
                </>
              )}
              <Field field={at("events")} label="Events" hint="comma-separated event types; empty: all of them" errors={placed.byField.get(at("events"))}>
                {(p) => <EventsInput {...p} value={Array.isArray(events) ? events.map(String) : []} onChange={(list) => set(i, "events", list.length === 0 ? undefined : list)} />}
              </Field>
            </div>
          </div>
        )
      })}
      <div className="row">
        <button type="button" onClick={() => write([...channels, { id: `webhook-${channels.length + 1}`, type: "webhook", url: "", secret: "" }])}>
          Add a webhook
        </button>
        <button type="button" onClick={() => write([...channels, { id: "log", type: "log" }])}>
          Add a log channel
        </button>
      </div>
      <p className="hint">Send a test notification from the Channels tab once saved.</p>
    </fieldset>
  )
}
