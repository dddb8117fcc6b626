import { useState } from "react"
import type { FormEvent } from "react"
import { api, ApiError } from "../../api/client.ts"
import { session } from "../../api/session.ts"
import { useSession } from "../../hooks/useSession.ts"

/** Asks for the operator's admin token (MPLP_ADMIN_TOKEN), checked before it is kept for this tab only. */
export const AdminSignIn = () => {
  const { adminMessage } = useSession()
  const [token, setToken] = useState("")
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    const t = token.trim()
    if (t === "") return setError("Enter the admin token.")
    setBusy(true)
    setError(null)
    try {
      await api.admin.tryToken(t)
      session.setAdminToken(t)
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? "That admin token was refused." : `The token could not be checked: ${err instanceof Error ? err.message : String(err)}.`)
    } finally {
      setBusy(false)
    }
  }
  const shown = error ?? adminMessage
  return (
    <section className="page" aria-labelledby="admin-signin-title">
      <form onSubmit={submit} className="card signin-card" aria-labelledby="admin-signin-title">
        <h1 id="admin-signin-title">Admin</h1>
        <p>Tenants, keys and settings need the operator's admin token (the service's <code>MPLP_ADMIN_TOKEN</code>).</p>
        {shown !== null && (
          <p className="field-error" role="alert">
            {shown}
          </p>
        )}
        <label>
          Admin token
          <input type="password" name="admin-token" autoComplete="off" spellCheck={false} value={token} onChange={(e) => setToken(e.target.value)} aria-invalid={shown !== null} autoFocus />
        </label>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Checking…" : "Continue"}
        </button>
        <p className="hint">It stays in this tab only (session storage), never in the address bar or a log line.</p>
      </form>
    </section>
  )
}
