import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query"
import { useEffect, useMemo, useState } from "react"
import type { FormEvent } from "react"
import { api, ApiError } from "../../api/client.ts"
import { useParam, useSetParams } from "../../hooks/useUrlState.ts"
import { formFields, parseJsonDoc, placeIssues } from "../../lib/settingsForm.ts"
import type { Issue, PlacedIssues } from "../../lib/settingsForm.ts"
import { ErrorBox } from "../Banner.tsx"
import { SettingsForm } from "./SettingsForm.tsx"

const NONE: PlacedIssues = { byField: new Map(), unplaced: [] }

const IssueList = ({ issues, title }: { readonly issues: ReadonlyArray<Issue>; readonly title: string }) => (
  <div className="banner banner-error" role="alert" data-issues={issues.length}>
    <span aria-hidden="true" className="banner-icon">
      ✕
    </span>
    <div>
      <strong>{title}</strong>
      <ul className="issues">
        {issues.map((i, n) => (
          <li key={n}>
            <code>{i.path === "" ? "(document)" : i.path}</code>: {i.message}
          </li>
        ))}
      </ul>
    </div>
  </div>
)

/**
 * The tenant's settings document, in a form for the common fields or as JSON, saved whole with PUT.
 * The server validates it with the settings Schema and answers 400 with `issues`; each one is shown
 * at its field (the form) or listed with its path (the JSON editor).
 */
export const SettingsEditor = ({ tenant }: { readonly tenant: string }) => {
  const client = useQueryClient()
  const setParams = useSetParams()
  const mode = useParam("mode") === "json" ? "json" : "form"
  const settings = useQuery({ queryKey: ["admin", "settings", tenant], queryFn: () => api.admin.settings(tenant), refetchOnWindowFocus: false })
  const [draft, setDraft] = useState<unknown>(undefined)
  const [text, setText] = useState("")
  const [syntax, setSyntax] = useState<string | null>(null)
  const [saved, setSaved] = useState(false)
  const server = settings.data
  useEffect(() => {
    if (server === undefined) return
    setDraft(server)
    setText(JSON.stringify(server, null, 2))
  }, [server])
  const save = useMutation({
    mutationFn: (doc: unknown) => api.admin.putSettings(tenant, doc),
    onSuccess: (next) => {
      setSaved(true)
      client.setQueryData(["admin", "settings", tenant], next)
    }
  })
  const issues: ReadonlyArray<Issue> = save.error instanceof ApiError && save.error.status === 400 ? save.error.issues : []
  const placed = useMemo(() => (issues.length === 0 ? NONE : placeIssues(issues, formFields(draft))), [issues, draft])
  if (settings.error !== null) return <ErrorBox error={settings.error} />
  if (server === undefined || draft === undefined) return <p className="muted" role="status">Loading the settings…</p>

  const edit = (next: unknown) => {
    setDraft(next)
    setSaved(false)
  }
  const switchTo = (m: "form" | "json") => {
    if (m === mode) return
    if (m === "json") setText(JSON.stringify(draft, null, 2))
    else {
      const parsed = parseJsonDoc(text)
      if (!parsed.ok) return setSyntax(`Fix the JSON first: ${parsed.error}`)
      setDraft(parsed.value)
    }
    setSyntax(null)
    setParams({ mode: m === "json" ? "json" : null }, { replace: true })
  }
  const submit = (e: FormEvent) => {
    e.preventDefault()
    setSaved(false)
    if (mode === "form") return save.mutate(draft)
    const parsed = parseJsonDoc(text)
    if (!parsed.ok) return setSyntax(`Not valid JSON: ${parsed.error}`)
    setSyntax(null)
    setDraft(parsed.value)
    save.mutate(parsed.value)
  }
  const reset = () => {
    setDraft(server)
    setText(JSON.stringify(server, null, 2))
    setSyntax(null)
    setSaved(false)
    save.reset()
  }
  const otherError = save.error !== null && issues.length === 0 ? save.error : null
  return (
    <form onSubmit={submit} className="stack" aria-label="Tenant settings" noValidate>
      <div className="card-head">
        <div className="tabs" role="tablist" aria-label="Edit as">
          {(["form", "json"] as const).map((m) => (
            <button key={m} type="button" role="tab" aria-selected={mode === m} onClick={() => switchTo(m)}>
              {m === "form" ? "Form" : "JSON"}
            </button>
          ))}
        </div>
        <p className="muted">Fields left out take the service's defaults (tenants/default.json).</p>
      </div>
      {syntax !== null && (
        <p className="field-error" role="alert">
          <span aria-hidden="true">✕ </span>
          {syntax}
        </p>
      )}
      {issues.length > 0 && mode === "json" && <IssueList issues={issues} title={`The service refused the settings (${issues.length} issue${issues.length === 1 ? "" : "s"}):`} />}
      {issues.length > 0 && mode === "form" && (
        <p className="field-error" role="alert">
          <span aria-hidden="true">✕ </span>
          Not saved: {issues.length} field{issues.length === 1 ? "" : "s"} to fix, marked below.
        </p>
      )}
      {mode === "form" && placed.unplaced.length > 0 && <IssueList issues={placed.unplaced} title="Issues outside the form's fields (see the JSON editor):" />}
      {otherError !== null && <ErrorBox error={otherError} />}
      {mode === "form" ? (
        <SettingsForm doc={draft} original={server} onChange={edit} placed={placed} />
      ) : (
        <label>
          Settings document (JSON)
          <textarea className="json-editor" spellCheck={false} value={text} onChange={(e) => { setText(e.target.value); setSaved(false) }} aria-invalid={syntax !== null || issues.length > 0} />
        </label>
      )}
      <div className="row">
        <button type="submit" className="primary" disabled={save.isPending}>
          {save.isPending ? "Saving…" : "Save settings"}
        </button>
        <button type="button" onClick={reset}>
          Discard changes
        </button>
        {saved && (
          <span className="saved" role="status">
            <span aria-hidden="true">✓ </span>Saved: every process uses them within 5 s
          </span>
        )}
      </div>
    </form>
  )
}
