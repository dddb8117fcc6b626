import { useQuery } from "@tanstack/react-query"
import { useId, useState } from "react"
import type { FormEvent } from "react"
import { useSearchParams } from "wouter"
import { api } from "../api/client.ts"
import { useSetParams, useTimeRange } from "../hooks/useUrlState.ts"

const STATUSES = ["active", "paused", "completed", "failed", "cancelled", "timed_out"] as const

interface Draft {
  readonly service: string
  readonly operation: string
  readonly status: ReadonlyArray<string>
  readonly minDurationMs: string
  readonly maxDurationMs: string
  readonly attrs: ReadonlyArray<string>
}

const draftOf = (p: URLSearchParams): Draft => ({
  service: p.get("service") ?? "",
  operation: p.get("operation") ?? "",
  status: (p.get("status") ?? "").split(",").filter((s) => s !== ""),
  minDurationMs: p.get("minDurationMs") ?? "",
  maxDurationMs: p.get("maxDurationMs") ?? "",
  attrs: p.getAll("attr")
})

const Form = ({ initial }: { readonly initial: Draft }) => {
  const [d, setD] = useState(initial)
  const [error, setError] = useState<string | null>(null)
  const setParams = useSetParams()
  const { range } = useTimeRange()
  const services = useQuery({ queryKey: ["services", range], queryFn: () => api.services(range) })
  const ids = useId()
  const ops = services.data?.services.find((s) => s.service === d.service)?.operations ?? []
  const set = (patch: Partial<Draft>) => setD({ ...d, ...patch })
  const submit = (e: FormEvent) => {
    e.preventDefault()
    const attrs = d.attrs.map((a) => a.trim()).filter((a) => a !== "")
    const bad = attrs.find((a) => a.indexOf("=") <= 0)
    if (bad !== undefined) return setError(`"${bad}" is not KEY=VALUE`)
    setError(null)
    setParams({
      service: d.service.trim(),
      operation: d.operation.trim(),
      status: d.status.join(","),
      minDurationMs: d.minDurationMs,
      maxDurationMs: d.maxDurationMs,
      attr: attrs,
      cursor: null
    })
  }
  return (
    <form className="card search-form" onSubmit={submit} aria-label="Search executions">
      <label>
        Service
        <input value={d.service} onChange={(e) => set({ service: e.target.value })} list={`${ids}-services`} placeholder="any" />
        <datalist id={`${ids}-services`}>
          {services.data?.services.map((s) => <option key={s.service} value={s.service} />)}
        </datalist>
      </label>
      <label>
        Operation
        <input value={d.operation} onChange={(e) => set({ operation: e.target.value })} list={`${ids}-ops`} placeholder="any" />
        <datalist id={`${ids}-ops`}>
          {ops.map((o) => <option key={o.operation} value={o.operation} />)}
        </datalist>
      </label>
      <label>
        Min duration (ms)
        <input type="number" min={0} inputMode="numeric" value={d.minDurationMs} onChange={(e) => set({ minDurationMs: e.target.value })} />
      </label>
      <label>
        Max duration (ms)
        <input type="number" min={0} inputMode="numeric" value={d.maxDurationMs} onChange={(e) => set({ maxDurationMs: e.target.value })} />
      </label>
      <fieldset className="statuses">
        <legend>Status</legend>
        {STATUSES.map((s) => (
          <label key={s} className="check">
            <input
              type="checkbox"
              checked={d.status.includes(s)}
              onChange={(e) => set({ status: e.target.checked ? [...d.status, s] : d.status.filter((x) => x !== s) })}
            />
            {s.replace("_", " ")}
          </label>
        ))}
      </fieldset>
      <fieldset className="attrs">
        <legend>Attributes (metadata, custom attributes, tags)</legend>
        {d.attrs.map((a, i) => (
          <span key={i} className="attr-row">
            <input aria-label={`Attribute filter ${i + 1}, KEY=VALUE`} value={a} placeholder="team=red" onChange={(e) => set({ attrs: d.attrs.map((x, j) => (j === i ? e.target.value : x)) })} />
            <button type="button" className="quiet" aria-label={`Remove attribute filter ${i + 1}`} onClick={() => set({ attrs: d.attrs.filter((_, j) => j !== i) })}>
              ✕
            </button>
          </span>
        ))}
        <button type="button" className="quiet" onClick={() => set({ attrs: [...d.attrs, ""] })}>
          + attribute
        </button>
      </fieldset>
      {error !== null && (
        <p className="field-error" role="alert">
          {error}
        </p>
      )}
      <div className="form-actions">
        <button type="submit" className="primary">
          Search
        </button>
        <button type="button" onClick={() => setParams({ service: null, operation: null, status: null, minDurationMs: null, maxDurationMs: null, attr: null, cursor: null })}>
          Clear
        </button>
      </div>
    </form>
  )
}

/** The search API's filters as a form; submitting writes them to the URL, which drives the search. */
export const SearchForm = () => {
  const [params] = useSearchParams()
  const seed = draftOf(params)
  // A new URL (back/forward, a link) resets the draft to what the URL says.
  return <Form key={JSON.stringify(seed)} initial={seed} />
}
