import "./executions.css"
import { useQuery } from "@tanstack/react-query"
import { useSearchParams } from "wouter"
import { api } from "../api/client.ts"
import type { Search } from "../api/client.ts"
import { ErrorBox } from "../components/Banner.tsx"
import { ExecutionTable } from "../components/ExecutionTable.tsx"
import { SearchForm } from "../components/SearchForm.tsx"
import { SendData } from "../components/SendData.tsx"
import { useLiveExecutions } from "../hooks/useLiveExecutions.ts"
import { useSetParams, useTimeRange } from "../hooks/useUrlState.ts"

export const FILTERS = ["service", "operation", "status", "minDurationMs", "maxDurationMs"] as const

/** The search request the URL describes: the named filters, `attr=KEY=VALUE` pairs, range, page. */
export const searchFrom = (params: URLSearchParams, range: { readonly from: string; readonly to: string }): Search => {
  const q: Record<string, string | undefined> = { from: range.from, to: range.to, limit: params.get("limit") ?? "50", cursor: params.get("cursor") ?? undefined }
  for (const f of FILTERS) q[f] = params.get(f) ?? undefined
  for (const pair of params.getAll("attr")) {
    const at = pair.indexOf("=")
    if (at > 0) q[`attr.${pair.slice(0, at)}`] = pair.slice(at + 1)
  }
  return q
}

export default function Executions() {
  const [params] = useSearchParams()
  const { range } = useTimeRange()
  const setParams = useSetParams()
  const search = searchFrom(params, range)
  const running = (params.get("status") ?? "").split(",").some((s) => s === "active" || s === "paused")
  // Running executions follow the live view; polled only while it is not connected.
  const live = useLiveExecutions(running, ["search", search])
  const result = useQuery({ queryKey: ["search", search], queryFn: () => api.search(search), refetchInterval: running && !live ? 5000 : false })
  const rows = result.data?.executions ?? []
  const cursor = params.get("cursor")
  const nextCursor = result.data?.nextCursor ?? null
  const filtered = FILTERS.some((f) => params.get(f) !== null) || params.getAll("attr").length > 0
  return (
    <section className="page" aria-labelledby="executions-title">
      <div className="page-head">
        <h1 id="executions-title">Executions</h1>
        <p className="muted">
          Newest first, started in the selected range
          {live && <span className="live-badge" role="status" title="Progress updates as it happens"> · ● live</span>}
        </p>
      </div>
      <SearchForm />
      <div className="card">
        {result.error !== null && <ErrorBox error={result.error} />}
        {result.isPending && <p className="muted" role="status">Searching…</p>}
        {result.data !== undefined && rows.length === 0 && (
          filtered || cursor !== null ? <p className="muted" role="status">No execution matches these filters in this range.</p> : <SendData title="No execution in this range yet" what={["spans", "executions"]} />
        )}
        {rows.length > 0 && <ExecutionTable rows={rows} />}
        <div className="pager">
          {cursor !== null && (
            <button type="button" onClick={() => setParams({ cursor: null })}>
              ⇤ Newest
            </button>
          )}
          <span className="muted" role="status">
            {result.data === undefined ? "" : `${rows.length} execution${rows.length === 1 ? "" : "s"} on this page`}
          </span>
          {nextCursor !== null && (
            <button type="button" onClick={() => setParams({ cursor: nextCursor })}>
              Older →
            </button>
          )}
        </div>
      </div>
    </section>
  )
}
