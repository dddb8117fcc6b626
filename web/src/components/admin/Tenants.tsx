import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query"
import { useState } from "react"
import type { FormEvent } from "react"
import { Link } from "wouter"
import { api, ApiError } from "../../api/client.ts"
import { ErrorBox } from "../Banner.tsx"

const adminHref = (tenant: string) => `/admin?tenant=${encodeURIComponent(tenant)}`

/** Every tenant, the selected one marked, and a form that creates one. */
export const Tenants = ({ selected, onCreated }: { readonly selected: string | null; readonly onCreated: (id: string) => void }) => {
  const client = useQueryClient()
  const tenants = useQuery({ queryKey: ["admin", "tenants"], queryFn: api.admin.tenants })
  const [id, setId] = useState("")
  const [name, setName] = useState("")
  const create = useMutation({
    mutationFn: () => api.admin.createTenant({ id: id.trim(), ...(name.trim() === "" ? {} : { name: name.trim() }) }),
    onSuccess: (t) => {
      setId("")
      setName("")
      void client.invalidateQueries({ queryKey: ["admin", "tenants"] })
      onCreated(t.id)
    }
  })
  const submit = (e: FormEvent) => {
    e.preventDefault()
    create.mutate()
  }
  const err = create.error instanceof ApiError ? create.error : null
  return (
    <nav className="card" aria-labelledby="tenants-title">
      <h2 id="tenants-title">Tenants</h2>
      {tenants.error !== null && <ErrorBox error={tenants.error} />}
      {tenants.data !== undefined && tenants.data.tenants.length === 0 && <p className="muted">No tenant yet: create the first one below.</p>}
      <ul className="tenant-list">
        {tenants.data?.tenants.map((t) => (
          <li key={t.id} data-tenant={t.id}>
            <Link href={adminHref(t.id)} aria-current={t.id === selected ? "page" : undefined}>
              <strong>{t.name}</strong>
              {t.name !== t.id && <span className="muted mono"> {t.id}</span>}
            </Link>
          </li>
        ))}
      </ul>
      <form onSubmit={submit} className="stack" aria-labelledby="new-tenant-title">
        <h3 id="new-tenant-title">New tenant</h3>
        <label>
          Id
          <input value={id} onChange={(e) => setId(e.target.value)} required spellCheck={false} aria-invalid={err !== null} aria-describedby="new-tenant-hint new-tenant-error" />
        </label>
        <p className="hint" id="new-tenant-hint">
          Letters, digits, - and _; it names the tenant in keys and logs
        </p>
        <label>
          <span>
            Name <span className="muted">(optional)</span>
          </span>
          <input value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        {create.error !== null && (
          <p className="field-error" role="alert" id="new-tenant-error">
            <span aria-hidden="true">✕ </span>
            {err === null ? String(create.error) : err.status === 409 ? `A tenant with id "${id.trim()}" exists already.` : err.message}
          </p>
        )}
        <button type="submit" className="primary" disabled={create.isPending || id.trim() === ""}>
          {create.isPending ? "Creating…" : "Create tenant"}
        </button>
      </form>
    </nav>
  )
}
