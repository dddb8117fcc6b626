import { useQueryClient } from "@tanstack/react-query"
import type { ReactNode } from "react"
import { ApiError } from "../api/client.ts"
import { serviceStatus } from "../api/status.ts"
import { useNow } from "../hooks/useNow.ts"
import { useServiceStatus } from "../hooks/useSession.ts"

const why = (status: number) =>
  status === 429 ? "The service is rate-limiting this tenant (429)" : status === 503 ? "The service is unavailable (503)" : "The service cannot be reached"

/** 429, 503 or no connection: one banner, counting down to the retry the queries make by themselves. */
export const ServiceBanner = () => {
  const trouble = useServiceStatus()
  const now = useNow(500)
  const client = useQueryClient()
  if (trouble === null) return null
  const seconds = Math.max(0, Math.ceil((trouble.retryAt - now) / 1000))
  return (
    <div className="banner banner-warn" role="status" aria-live="polite">
      <span aria-hidden="true" className="banner-icon">⚠</span>
      <span>
        {why(trouble.status)}: {trouble.message}. {seconds > 0 ? `Retrying in ${seconds} s…` : "Retrying…"}
      </span>
      <button
        type="button"
        onClick={() => {
          serviceStatus.clear(true)
          void client.refetchQueries({ type: "active" })
        }}
      >
        Retry now
      </button>
    </div>
  )
}

/** A failed query's answer, in place of what it would have shown. Transient failures are the banner's. */
export const ErrorBox = ({ error, children }: { readonly error: unknown; readonly children?: ReactNode }) => {
  if (error instanceof ApiError && error.transient) return <p className="muted" role="status">Waiting for the service…</p>
  const text = error instanceof ApiError ? `${error.status === 0 ? "" : `${error.status}: `}${error.message}` : error instanceof Error ? error.message : String(error)
  return (
    <div className="banner banner-error" role="alert">
      <span aria-hidden="true" className="banner-icon">✕</span>
      <span>
        {text}
        {children}
      </span>
    </div>
  )
}
