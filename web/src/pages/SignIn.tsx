import { useState } from "react"
import type { FormEvent } from "react"
import { Link } from "wouter"
import { api, ApiError } from "../api/client.ts"
import { session } from "../api/session.ts"
import { useSession } from "../hooks/useSession.ts"

const refusal = (e: unknown) => {
  if (!(e instanceof ApiError)) return "The key could not be checked."
  if (e.status === 401) return `That key was refused: ${e.message}.`
  if (e.status === 403) return "That key has no “query” scope: the console reads with it. Use a key with the query scope (and alerts to acknowledge alerts)."
  return `The key could not be checked: ${e.status === 0 ? e.message : `${e.status} ${e.message}`}.`
}

/** Asks for a tenant key (checked against the API before it is kept for this tab). */
export const SignIn = () => {
  const { message } = useSession()
  const [key, setKey] = useState("")
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const submit = async (e: FormEvent) => {
    e.preventDefault()
    const k = key.trim()
    if (k === "") return setError("Enter an API key.")
    setBusy(true)
    setError(null)
    try {
      await api.tryKey(k)
      session.signIn(k)
    } catch (err) {
      setError(refusal(err))
    } finally {
      setBusy(false)
    }
  }
  const shownMessage = error ?? message
  return (
    <main className="signin" id="main">
      <form onSubmit={submit} className="card signin-card" aria-labelledby="signin-title">
        <h1 id="signin-title">
          <img src="/favicon.svg" alt="" width="24" height="24" /> MPLP Trace
        </h1>
        <p>Sign in with a tenant API key with the query scope (alerts too, to acknowledge alerts).</p>
        {shownMessage !== null && (
          <p className="field-error" role="alert">
            {shownMessage}
          </p>
        )}
        <label>
          API key
          <input
            type="password"
            name="key"
            autoComplete="off"
            spellCheck={false}
            placeholder="mplp_…"
            value={key}
            onChange={(e) => setKey(e.target.value)}
            aria-invalid={shownMessage !== null}
            autoFocus
          />
        </label>
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Checking…" : "Sign in"}
        </button>
        <p className="hint">
          <code>npm start</code> prints a sign-in link for the demo tenant (<code>http://localhost:8080/#key=…</code>). The key stays in this tab only
          (session storage). Operators: <Link href="/admin">Admin</Link> takes the admin token.
        </p>
      </form>
    </main>
  )
}
