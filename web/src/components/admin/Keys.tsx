import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query"
import { useState } from "react"
import type { FormEvent } from "react"
import type { Scope } from "../../../../src/domain/ids.ts"
import { api } from "../../api/client.ts"
import type { Keys as KeyList, NewKey } from "../../api/client.ts"
import { formatDateTime } from "../../lib/format.ts"
import { ErrorBox } from "../Banner.tsx"
import { CopyText } from "../CopyText.tsx"

/** Every scope a key can hold and what it allows (a scope added to the API must be described here). */
export const SCOPES: Readonly<Record<Scope, string>> = {
  ingest: "send spans, metrics, executions and jobs",
  query: "read: the console, search, series, alerts",
  alerts: "acknowledge alerts"
}

type Key = KeyList["keys"][number]

/** The new key, shown once: only its hash is stored, so nobody can show it again. */
const ShownOnce = ({ created, onDone }: { readonly created: NewKey; readonly onDone: () => void }) => (
  <div className="secret-box" role="status" data-new-key={created.keyId}>
    <p>
      <strong>
        <span aria-hidden="true">⚠ </span>New key {created.keyId} ({created.scopes.join(", ")}): copy it now.
      </strong>{" "}
      It is shown this once; the service keeps only its hash.
    </p>
    <CopyText text={created.key} label="the new API key" inline />
    <p className="hint">
      Sign in to the console with it, or send it as <code>Authorization: Bearer …</code> or <code>x-api-key</code>.
    </p>
    <div>
      <button type="button" onClick={onDone}>
        I have copied it: hide it
      </button>
    </div>
  </div>
)

const KeyRow = ({ k, onRevoke, revoking }: { readonly k: Key; readonly onRevoke: () => void; readonly revoking: boolean }) => {
  const [confirm, setConfirm] = useState(false)
  return (
    <tr data-key-id={k.keyId} data-revoked={k.revokedAt !== null}>
      <th scope="row" className="mono">
        {k.keyId}
      </th>
      <td>{k.name ?? <span className="muted">–</span>}</td>
      <td>{k.scopes.join(", ")}</td>
      <td className="mono">{formatDateTime(Date.parse(k.createdAt))}</td>
      <td>
        {k.revokedAt === null ? (
          <span className="badge badge-ok">
            <span aria-hidden="true">✓</span> active
          </span>
        ) : (
          <span className="badge badge-muted" title={formatDateTime(Date.parse(k.revokedAt))}>
            <span aria-hidden="true">⊘</span> revoked {formatDateTime(Date.parse(k.revokedAt))}
          </span>
        )}
      </td>
      <td>
        {k.revokedAt === null &&
          (confirm ? (
            <span className="row">
              <button type="button" className="danger" data-action="confirm-revoke" disabled={revoking} onClick={onRevoke}>
                {revoking ? "Revoking…" : `Revoke ${k.keyId} now`}
              </button>
              <button type="button" onClick={() => setConfirm(false)}>
                Keep it
              </button>
            </span>
          ) : (
            <button type="button" data-action="revoke" onClick={() => setConfirm(true)} aria-label={`Revoke key ${k.keyId}`}>
              Revoke…
            </button>
          ))}
      </td>
    </tr>
  )
}

export const Keys = ({ tenant }: { readonly tenant: string }) => {
  const client = useQueryClient()
  const keys = useQuery({ queryKey: ["admin", "keys", tenant], queryFn: () => api.admin.keys(tenant) })
  const [name, setName] = useState("")
  const [scopes, setScopes] = useState<ReadonlyArray<Scope>>(["ingest", "query"])
  // Held in this component only: gone on reload, never cached, stored or logged.
  const [created, setCreated] = useState<NewKey | null>(null)
  const refresh = () => client.invalidateQueries({ queryKey: ["admin", "keys", tenant] })
  const create = useMutation({
    mutationFn: () => api.admin.createKey(tenant, { scopes, ...(name.trim() === "" ? {} : { name: name.trim() }) }),
    onSuccess: (k) => {
      setCreated(k)
      setName("")
      create.reset()
      void refresh()
    }
  })
  const revoke = useMutation({ mutationFn: (keyId: string) => api.admin.revokeKey(keyId), onSettled: () => void refresh() })
  const submit = (e: FormEvent) => {
    e.preventDefault()
    create.mutate()
  }
  return (
    <div className="stack">
      {created !== null && <ShownOnce created={created} onDone={() => setCreated(null)} />}
      {keys.error !== null && <ErrorBox error={keys.error} />}
      {revoke.error !== null && <ErrorBox error={revoke.error} />}
      {keys.data !== undefined && keys.data.keys.length === 0 && <p className="muted">This tenant has no key yet.</p>}
      {keys.data !== undefined && keys.data.keys.length > 0 && (
        <div className="table-wrap">
          <table className="table keys-table">
            <thead>
              <tr>
                <th scope="col">Key id</th>
                <th scope="col">Name</th>
                <th scope="col">Scopes</th>
                <th scope="col">Created</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.keys.map((k) => (
                <KeyRow key={k.keyId} k={k} revoking={revoke.isPending && revoke.variables === k.keyId} onRevoke={() => revoke.mutate(k.keyId)} />
              ))}
            </tbody>
          </table>
        </div>
      )}
      <form onSubmit={submit} className="card stack" aria-labelledby="new-key-title">
        <h3 id="new-key-title">New key</h3>
        <div className="row">
          <label>
            <span>
              Name <span className="muted">(optional)</span>
            </span>
            <input value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. checkout service" />
          </label>
          <fieldset className="row">
            <legend>Scopes</legend>
            {(Object.keys(SCOPES) as Array<Scope>).map((s) => (
              <label key={s} className="check" title={SCOPES[s]}>
                <input type="checkbox" checked={scopes.includes(s)} onChange={(e) => setScopes(e.target.checked ? [...scopes, s] : scopes.filter((x) => x !== s))} />
                {s} <span className="muted">({SCOPES[s]})</span>
              </label>
            ))}
          </fieldset>
        </div>
        {scopes.length === 0 && <p className="field-error">Choose at least one scope.</p>}
        {create.error !== null && <ErrorBox error={create.error} />}
        <div>
          <button type="submit" className="primary" disabled={create.isPending || scopes.length === 0}>
            {create.isPending ? "Creating…" : "Create key"}
          </button>
        </div>
      </form>
    </div>
  )
}
