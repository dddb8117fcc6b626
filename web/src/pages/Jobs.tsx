import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query"
import { api, ApiError } from "../api/client.ts"
import type { Job } from "../api/client.ts"
import { ErrorBox } from "../components/Banner.tsx"
import { CopyText } from "../components/CopyText.tsx"
import { useNow } from "../hooks/useNow.ts"
import { useSession } from "../hooks/useSession.ts"
import { useTimeRange } from "../hooks/useUrlState.ts"
import { formatCount, formatDateTime } from "../lib/format.ts"
import { resolveRange } from "../lib/timeRange.ts"
import "./pages.css"

const failedAt = (j: Job) => Date.parse(j.finishedAt ?? j.createdAt)

const SHORT = 160

/** A reason's first line; a schema's full report (it can run to pages) behind a disclosure. */
const Reason = ({ text }: { readonly text: string }) => {
  const first = text.split("\n")[0]!
  const short = first.length > SHORT ? `${first.slice(0, SHORT)}…` : first
  return short === text ? (
    <span>{text}</span>
  ) : (
    <details>
      <summary>{short}</summary>
      <pre className="reason-full">{text}</pre>
    </details>
  )
}

const JobTable = ({ jobs, onRetry, retrying }: { readonly jobs: ReadonlyArray<Job>; readonly onRetry: (jobId: string) => void; readonly retrying: string | null }) => (
  <div className="table-wrap">
    <table className="table jobs-table">
      <thead>
        <tr>
          <th scope="col">Failed</th>
          <th scope="col">Job</th>
          <th scope="col">Kind</th>
          <th scope="col" className="num">Attempts</th>
          <th scope="col">Submitted</th>
          <th scope="col">Reason</th>
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {jobs.map((j) => (
          <tr key={j.jobId} data-job-id={j.jobId}>
            <td className="mono">{formatDateTime(failedAt(j))}</td>
            <th scope="row" className="mono">
              {j.jobId}
            </th>
            <td>{j.kind}</td>
            <td className="num">{formatCount(j.attempts)}</td>
            <td className="mono">{formatDateTime(Date.parse(j.createdAt))}</td>
            <td className="reason-cell">
              <span className="badge badge-bad">
                <span aria-hidden="true">✕</span> {j.state}
              </span>{" "}
              <Reason text={j.failedReason ?? "no reason recorded"} />
            </td>
            <td>
              <button type="button" className="quiet" disabled={retrying === j.jobId} onClick={() => onRetry(j.jobId)} aria-label={`Retry job ${j.jobId}`}>
                {retrying === j.jobId ? "Retrying…" : "Retry"}
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  </div>
)

export default function JobsPage() {
  const { range } = useTimeRange()
  const now = useNow(15_000)
  const { key } = useSession()
  const jobs = useQuery({ queryKey: ["jobs", "failed"], queryFn: () => api.failedJobs(1000), refetchInterval: 15_000 })
  const client = useQueryClient()
  // Runs a dead-lettered job again with a fresh retry budget: worth it once the cause is gone (a
  // database that was down, a settings fix); a payload that does not decode fails again. The outcome
  // stays on the page, since the row itself leaves the list when the job is no longer failed.
  const retry = useMutation({
    mutationFn: (jobId: string) => api.retryJob(jobId),
    onSettled: () => client.invalidateQueries({ queryKey: ["jobs", "failed"] })
  })
  const resolved = resolveRange(range, now)
  const all = jobs.data?.jobs ?? []
  const shown = ("error" in resolved ? all : all.filter((j) => failedAt(j) >= resolved.fromMs && failedAt(j) <= resolved.toMs)).slice().sort((a, b) => failedAt(b) - failedAt(a))
  const outside = all.length - shown.length
  const origin = window.location.origin
  return (
    <section className="page" aria-labelledby="jobs-title">
      <div className="page-head">
        <h1 id="jobs-title">Jobs</h1>
        <p className="muted">Dead-lettered jobs of this tenant that failed in the selected range (kept 7 days), newest first</p>
      </div>
      {jobs.error !== null && (
        <ErrorBox error={jobs.error}>
          {jobs.error instanceof ApiError && jobs.error.status === 403 && " — the failed-job list needs a key with the ingest scope (the scope that submits jobs)."}
        </ErrorBox>
      )}
      {jobs.isPending && <p className="muted" role="status">Loading failed jobs…</p>}
      {retry.isSuccess && (
        <p className="muted" role="status" data-retry-outcome="">
          Job <span className="mono">{retry.data.jobId}</span> queued again ({retry.data.state})
        </p>
      )}
      {retry.error !== null && (
        <ErrorBox error={retry.error}>
          {` — retrying job ${retry.variables ?? ""}`}
          {retry.error instanceof ApiError && retry.error.status === 403 && " needs a key with the ingest scope"}
        </ErrorBox>
      )}
      {jobs.data !== undefined && (
        <div className="card">
          <p className="muted" role="status">
            {shown.length} failed job{shown.length === 1 ? "" : "s"}
            {outside > 0 && ` · ${outside} more outside the range (widen it with the range picker)`}
          </p>
          {shown.length > 0 ? (
            <JobTable jobs={shown} onRetry={(id) => retry.mutate(id)} retrying={retry.isPending ? retry.variables : null} />
          ) : (
            <div className="empty">
              <h3>No job failed for good in this range</h3>
              <p>
                A job submitted with <code>POST /api/jobs</code> lands here when it cannot succeed: its payload does not decode, or it ran out of attempts. Each row says
                why. To submit a batch as a job:
              </p>
              <CopyText
                label="curl: submit a metrics job"
                text={`curl -H "Authorization: Bearer ${key ?? "<your key>"}" -H 'content-type: application/json' \\\n  -d '{"kind":"metrics","payload":{"points":[{"name":"queueDepth","value":3}]}}' ${origin}/api/jobs`}
              />
            </div>
          )}
        </div>
      )}
    </section>
  )
}
