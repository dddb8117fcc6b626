import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"
import { withIngestQueue } from "./queue.ts"

// Issue #13, "Queries": what one tenant's reads may cost is bounded.

let app: TestApp
beforeAll(async () => {
  app = await startApp({}, { MPLP_MAX_RAW_RANGE_HOURS: "6" })
})
afterAll(async () => {
  await app.close()
})

type ErrorBody = { message: string; issues?: Array<{ path: string }> }
interface JobStatus { jobId: string; kind: string; state: string; attempts: number; failedReason?: string; finishedAt?: string }

describe("raw-point queries", () => {
  it("span at most MPLP_MAX_RAW_RANGE_HOURS; aggregate buckets are not limited by it", async () => {
    const t = await app.tenant()
    const q = (params: string) => call(app, t.key, "GET", `/api/metrics/series?name=x&${params}`)
    const refused = await Promise.all([q("from=now-7h&bucket=raw"), q("from=now-7h&bucket=1m&source=raw"), q("from=now-7h&bucket=10s")])
    for (const r of refused) {
      expect(r.status).toBe(400)
      const body = (await r.json()) as ErrorBody
      expect(body.issues?.map((i) => i.path)).toEqual(["from"])
      expect(body.message).toMatch(/MPLP_MAX_RAW_RANGE_HOURS/)
    }
    const allowed = await Promise.all([q("from=now-6h&bucket=raw"), q("from=now-7d&bucket=1h"), q("from=now-7h&bucket=1m")])
    expect(allowed.map((r) => r.status)).toEqual([200, 200, 200])
  })
})

describe("execution search without from", () => {
  it("covers the last 24 h (before to); an older execution needs from", async () => {
    const t = await app.tenant()
    const old = randomBytes(16).toString("hex")
    await app.sql(
      `INSERT INTO executions (tenant_id, trace_id, execution_id, span_id, operation_name, service_name, status, start_time)
       VALUES ($1, $2, $2, $3, 'old-op', 'svc', 'completed', now() - interval '36 hours')`, [t.id, old, randomBytes(8).toString("hex")])
    const fresh = await call(app, t.key, "POST", "/api/executions", { operationName: "new-op", serviceName: "svc", context: { contextId: "c", userId: "u" } })
    const { traceId } = (await fresh.json()) as { traceId: string }
    const ids = async (params: string) =>
      ((await (await call(app, t.key, "GET", `/api/executions?${params}`)).json()) as { executions: Array<{ traceId: string }> }).executions.map((e) => e.traceId)
    await eventually(async () => ((await ids("")).includes(traceId) ? true : undefined))
    expect(await ids("")).toEqual([traceId])
    expect(await ids("from=now-3d")).toEqual([traceId, old])
    expect(await ids(`to=${Date.now() - 86_400_000}`)).toEqual([old])
  })
})

/** A job that fails at once (its payload does not decode), as an older producer might have queued it. */
const poisonJob = (tenantId: string, extra: Record<string, unknown> = {}) =>
  withIngestQueue(app, async (queue) => {
    const job = await queue.add("metrics", { _tag: "metrics", tenantId, points: "not a list", ...extra }, { jobId: `${tenantId}.poison-${randomBytes(4).toString("hex")}` })
    return job.id ?? ""
  })

const failedJobs = async (key: string, query = "state=failed") => {
  const res = await call(app, key, "GET", `/api/jobs?${query}`)
  expect(res.status).toBe(200)
  return ((await res.json()) as { jobs: Array<JobStatus> }).jobs
}

const failedWhen = (key: string, n: number) =>
  eventually(async () => {
    const jobs = await failedJobs(key)
    return jobs.length === n ? jobs : undefined
  })

describe("GET /api/jobs?state=failed", () => {
  it("validates state and limit", async () => {
    const t = await app.tenant(["ingest"])
    for (const [query, param] of [["", "state"], ["state=done", "state"], ["state=failed&limit=0", "limit"], ["state=failed&limit=1001", "limit"], ["state=failed&limit=ten", "limit"], ["state=failed&limit=2.5", "limit"]] as const) {
      const res = await call(app, t.key, "GET", `/api/jobs?${query}`)
      expect(res.status).toBe(400)
      expect(((await res.json()) as ErrorBody).issues?.map((i) => i.path)).toEqual([param])
    }
    expect(await failedJobs(t.key, "state=failed&limit=1000")).toEqual([])
  })

  it("reads only the tenant's small index (kind, times, reason), not the jobs themselves", async () => {
    const t = await app.tenant(["ingest"])
    // A big payload: what listing must never load (for every tenant's failures, it once read 1,000 of them).
    const jobId = await poisonJob(t.id, { padding: "p".repeat(1_000_000) })
    const [listed] = await failedWhen(t.key, 1)
    expect(listed).toMatchObject({ jobId, kind: "metrics", state: "failed", attempts: 1 })
    expect(listed?.failedReason).toMatch(/payload does not decode/)
    expect(listed!.failedReason!.length).toBeLessThanOrEqual(501)
    // The job itself is gone from Redis (removed by hand): the listing still answers from the index.
    await withIngestQueue(app, async (queue) => (await queue.getJob(jobId))?.remove())
    expect((await failedJobs(t.key)).map((j) => j.jobId)).toEqual([jobId])
    const other = await app.tenant(["ingest"])
    expect(await failedJobs(other.key)).toEqual([])
  })
})

describe("POST /api/jobs/{id}/retry", () => {
  it("runs a dead-lettered job again, for its tenant only", async () => {
    const t = await app.tenant(["ingest"])
    const jobId = await poisonJob(t.id)
    await failedWhen(t.key, 1)
    const other = await app.tenant(["ingest"])
    expect((await call(app, other.key, "POST", `/api/jobs/${jobId}/retry`)).status).toBe(404)
    expect((await call(app, t.key, "POST", `/api/jobs/${t.id}.unknown/retry`)).status).toBe(404)

    // The cause is fixed (the payload now decodes), then the job is retried: it runs and its point is stored.
    await withIngestQueue(app, async (queue) =>
      (await queue.getJob(jobId))?.updateData({ _tag: "metrics", tenantId: t.id, receivedAtMs: Date.now(), source: "native", points: [{ name: "retried", value: 7, timeMs: Date.now(), serviceName: "", traceId: null, attributes: {} }] }))
    const res = await call(app, t.key, "POST", `/api/jobs/${jobId}/retry`)
    expect(res.status).toBe(202)
    expect(await res.json()).toMatchObject({ jobId, state: "waiting", attempts: 0 })
    const done = await eventually(async () => {
      const r = await call(app, t.key, "GET", `/api/jobs/${jobId}`)
      const job = (await r.json()) as JobStatus
      return job.state === "completed" ? job : undefined
    })
    expect(done.attempts).toBe(1)
    expect(await app.sql("SELECT value FROM metric_points WHERE tenant_id = $1 AND name = 'retried'", [t.id])).toEqual([{ value: 7 }])
    expect(await failedJobs(t.key)).toEqual([])
  })

  it("answers 409 for a job that is not failed", async () => {
    const t = await app.tenant(["ingest"])
    const res = await call(app, t.key, "POST", "/api/jobs", { kind: "metrics", payload: { points: [{ name: "ok", value: 1 }] } })
    const { jobId } = (await res.json()) as { jobId: string }
    await eventually(async () => (((await (await call(app, t.key, "GET", `/api/jobs/${jobId}`)).json()) as JobStatus).state === "completed" ? true : undefined))
    const again = await call(app, t.key, "POST", `/api/jobs/${jobId}/retry`)
    expect(again.status).toBe(409)
    expect(((await again.json()) as ErrorBody).message).toMatch(/not failed/)
  })
})
