import { useState } from "react"
import { useSession } from "../hooks/useSession.ts"

const Copyable = ({ text, label }: { readonly text: string; readonly label: string }) => {
  const [copied, setCopied] = useState(false)
  return (
    <div className="copyable">
      <pre tabIndex={0} aria-label={label}>
        {text}
      </pre>
      <button
        type="button"
        className="quiet"
        onClick={() => {
          void navigator.clipboard?.writeText(text).then(() => {
            setCopied(true)
            window.setTimeout(() => setCopied(false), 1500)
          })
        }}
      >
        {copied ? "Copied" : "Copy"}
      </button>
    </div>
  )
}

export type Sample = "spans" | "metrics" | "executions"

/** An empty state that says what to send and how, with this console's address and key filled in. */
export const SendData = ({ title, what }: { readonly title: string; readonly what: ReadonlyArray<Sample> }) => {
  const { key } = useSession()
  const origin = window.location.origin
  const k = key ?? "<your key>"
  return (
    <div className="empty" role="status">
      <h3>{title}</h3>
      {what.includes("spans") && (
        <>
          <p>Point an OpenTelemetry SDK or Collector at this service (OTLP/HTTP, protobuf or JSON):</p>
          <Copyable label="OpenTelemetry exporter settings" text={`OTEL_EXPORTER_OTLP_ENDPOINT=${origin}\nOTEL_EXPORTER_OTLP_HEADERS="x-api-key=${k}"`} />
        </>
      )}
      {what.includes("executions") && (
        <>
          <p>Or start an execution with the native API (then PATCH its progress and POST …/finish):</p>
          <Copyable
            label="curl: start an execution"
            text={`curl -H "Authorization: Bearer ${k}" -H 'content-type: application/json' \\\n  -d '{"operationName":"plan","serviceName":"agent","context":{"contextId":"c1","userId":"u1"}}' ${origin}/api/executions`}
          />
        </>
      )}
      {what.includes("metrics") && (
        <>
          <p>Send metric points:</p>
          <Copyable
            label="curl: send a metric point"
            text={`curl -H "Authorization: Bearer ${k}" -H 'content-type: application/json' \\\n  -d '{"points":[{"name":"responseTimeMs","value":120,"serviceName":"checkout"}]}' ${origin}/api/metrics`}
          />
        </>
      )}
    </div>
  )
}
