import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"
import { withIngestQueue } from "./queue.ts"

let app: TestApp
beforeAll(async () => {
  app = await startApp()
})
afterAll(async () => {
  await app.close()
})

interface JobStatus {
  jobId: string
  kind: string
  state: string
  attempts: number
  failedReason?: string
  createdAt: string
  startedAt?: string
  finishedAt?: string
}

const submit = (key: string, body: unknown, headers: Record<string, string> = {}) => call(app, key, "POST", "/api/jobs", body, headers)

const jobWhen = (key: string, jobId: string, state: string) =>
  eventually(async () => {
    const res = await call(app, key, "GET", `/api/jobs/${encodeURIComponent(jobId)}`)
    if (res.status !== 200) return undefined
    const job = (await res.json()) as JobStatus
    return job.state === state ? job : undefined
  })

const pointCount = async (tenantId: string) =>
  Number((await app.sql<{ n: number }>("SELECT count(*)::int AS n FROM metric_points WHERE tenant_id = $1", [tenantId]))[0]?.n)

/** A job that can never succeed (its payload no longer decodes), put on the queue as an older producer might have. */
const poisonJob = (tenantId: string) =>
  withIngestQueue(app, async (queue) => {
    const job = await queue.add("metrics", { _tag: "metrics", tenantId, points: "not a list" }, { jobId: `${tenantId}.poison-${randomBytes(4).toString("hex")}`, attempts: 3 })
    return job.id ?? ""
  })

describe("POST /api/jobs and GET /api/jobs/{jobId}", () => {
  it("accepts a metrics job with 202 {jobId}, runs it, and reports it completed", async () => {
    const t = await app.tenant(["ingest"])
    const points = Array.from({ length: 20 }, (_, i) => ({ name: "queueDepth", value: i, serviceName: "worker" }))
    const res = await submit(t.key, { kind: "metrics", payload: { points } })
    expect(res.status).toBe(202)
    const { jobId } = (await res.json()) as { jobId: string }
    expect(jobId.startsWith(`${t.id}.`)).toBe(true)
    const job = await jobWhen(t.key, jobId, "completed")
    expect(job).toMatchObject({ jobId, kind: "metrics", state: "completed" })
    expect(job.failedReason).toBeUndefined()
    expect(await pointCount(t.id)).toBe(20)
    // Completed jobs leave the queue soon (they carry whole batches); their status stays readable.
    await withIngestQueue(app, async (queue) => (await queue.getJob(jobId))?.remove())
    const again = await call(app, t.key, "GET", `/api/jobs/${encodeURIComponent(jobId)}`)
    expect(again.status).toBe(200)
    const record = (await again.json()) as JobStatus
    expect(record).toMatchObject({ jobId, kind: "metrics", state: "completed", attempts: 1 })
    // When it was queued, taken by a worker and stored, in that order (queued time = startedAt − createdAt).
    const times = [record.createdAt, record.startedAt, record.finishedAt].map((x) => Date.parse(x ?? ""))
    expect(times.every(Number.isFinite)).toBe(true)
    expect(times[0]! <= times[1]! && times[1]! <= times[2]!).toBe(true)
    const other = await app.tenant(["ingest"])
    expect((await call(app, other.key, "GET", `/api/jobs/${encodeURIComponent(jobId)}`)).status).toBe(404)
  })

  it("accepts an otlp-traces job with an OTLP/JSON payload", async () => {
    const t = await app.tenant(["ingest"])
    const traceId = randomBytes(16).toString("hex")
    const now = BigInt(Date.now()) * 1_000_000n
    const payload = {
      resourceSpans: [{
        resource: { attributes: [{ key: "service.name", value: { stringValue: "batch" } }] },
        scopeSpans: [{ spans: [{ traceId, spanId: randomBytes(8).toString("hex"), name: "nightly", startTimeUnixNano: `${now - 1_000_000n}`, endTimeUnixNano: `${now}` }] }]
      }]
    }
    const res = await submit(t.key, { kind: "otlp-traces", payload })
    expect(res.status).toBe(202)
    const { jobId } = (await res.json()) as { jobId: string }
    await jobWhen(t.key, jobId, "completed")
    const spans = await app.sql<{ name: string; service_name: string }>("SELECT name, service_name FROM spans WHERE tenant_id = $1 AND trace_id = $2", [t.id, traceId])
    expect(spans).toEqual([{ name: "nightly", service_name: "batch" }])
  })

  it("is at-most-once with an idempotencyKey (body) or an Idempotency-Key header", async () => {
    const t = await app.tenant(["ingest"])
    const body = { kind: "metrics", payload: { points: [{ name: "n", value: 1 }, { name: "n", value: 2 }] } }
    const first = await submit(t.key, { ...body, idempotencyKey: "batch-7" })
    const second = await submit(t.key, { ...body, idempotencyKey: "batch-7" })
    const third = await submit(t.key, body, { "idempotency-key": "batch-7" })
    expect([first.status, second.status, third.status]).toEqual([202, 202, 202])
    const ids = (await Promise.all([first.json(), second.json(), third.json()])) as Array<{ jobId: string }>
    expect(new Set(ids.map((i) => i.jobId)).size).toBe(1)
    const other = await submit(t.key, { ...body, idempotencyKey: "batch-8" })
    const { jobId: otherId } = (await other.json()) as { jobId: string }
    await jobWhen(t.key, ids[0]!.jobId, "completed")
    await jobWhen(t.key, otherId, "completed")
    expect(await pointCount(t.id)).toBe(4)
  })

  it("refuses a bad job with 400 naming the field, and enqueues nothing", async () => {
    const t = await app.tenant(["ingest"])
    const kind = await submit(t.key, { kind: "logs", payload: {} })
    expect(kind.status).toBe(400)
    expect(JSON.stringify(await kind.json())).toContain("kind")
    const payload = await submit(t.key, { kind: "metrics", payload: { points: [{ name: "x", value: "1" }] } })
    expect(payload.status).toBe(400)
    const body = (await payload.json()) as { issues?: Array<{ path: string }> }
    expect(body.issues?.map((i) => i.path)).toContain("points.0.value")
    const noSpans = await submit(t.key, { kind: "otlp-traces", payload: { resourceSpans: [] } })
    expect(noSpans.status).toBe(400)
    const failed = (await (await call(app, t.key, "GET", "/api/jobs?state=failed")).json()) as { jobs: Array<unknown> }
    expect(failed.jobs).toEqual([])
    expect(await withIngestQueue(app, async (q) => (await q.getJobs(["wait", "active", "completed", "failed", "delayed"])).filter((j) => j.id?.startsWith(`${t.id}.`)))).toEqual([])
  })

  it("reports a job that cannot succeed as failed, with its reason, in GET /api/jobs?state=failed", async () => {
    const t = await app.tenant(["ingest"])
    const jobId = await poisonJob(t.id)
    const job = await jobWhen(t.key, jobId, "failed")
    expect(job.attempts).toBe(1) // an undecodable payload is not retried
    // the reason names where it failed, not the job's whole type
    expect(job.failedReason).toMatch(/^payload does not decode: /)
    expect(job.failedReason).toContain("receivedAtMs: is missing")
    expect(job.failedReason).toMatch(/points: Expected a list, actual "not a list"/)
    expect(job.failedReason).not.toContain("readonly tenantId")
    const res = await call(app, t.key, "GET", "/api/jobs?state=failed")
    expect(res.status).toBe(200)
    const { jobs } = (await res.json()) as { jobs: Array<JobStatus> }
    expect(jobs.map((j) => j.jobId)).toEqual([jobId])
    expect(jobs[0]).toMatchObject({ state: "failed", kind: "metrics" })
  })

  it("lists a tenant's failed job even when over a thousand newer failures of another tenant follow it", async () => {
    const a = await app.tenant(["ingest"])
    const b = await app.tenant(["ingest"])
    const own = await poisonJob(a.id)
    await jobWhen(a.key, own, "failed")
    const noisy = Array.from({ length: 1_050 }, (_, i) => ({
      name: "metrics", data: { _tag: "metrics", tenantId: b.id, points: "not a list" }, opts: { jobId: `${b.id}.poison-${i}` }
    }))
    await withIngestQueue(app, async (q) => {
      await q.addBulk(noisy)
      await eventually(async () => ((await q.getFailedCount()) >= noisy.length + 1 ? true : undefined), 60_000)
    })
    const listed = (await (await call(app, a.key, "GET", "/api/jobs?state=failed")).json()) as { jobs: Array<JobStatus> }
    expect(listed.jobs.map((j) => j.jobId)).toEqual([own])
    const theirs = (await (await call(app, b.key, "GET", "/api/jobs?state=failed&limit=1000")).json()) as { jobs: Array<JobStatus> }
    expect(theirs.jobs).toHaveLength(1_000)
    expect(theirs.jobs.every((j) => j.jobId.startsWith(`${b.id}.`) && j.state === "failed")).toBe(true)
  }, 90_000)

  it("answers 404 for an unknown job", async () => {
    const t = await app.tenant(["ingest"])
    expect((await call(app, t.key, "GET", `/api/jobs/${t.id}.00000000-0000-0000-0000-000000000000`)).status).toBe(404)
    expect((await call(app, t.key, "GET", "/api/jobs/whatever")).status).toBe(404)
  })
})

describe("tenant isolation of jobs", () => {
  it("another tenant's job is 404, and its failed jobs are not listed", async () => {
    const a = await app.tenant(["ingest"])
    const b = await app.tenant(["ingest"])
    const accepted = await submit(a.key, { kind: "metrics", payload: { points: [{ name: "secret", value: 42 }] } })
    const { jobId } = (await accepted.json()) as { jobId: string }
    const poisoned = await poisonJob(a.id)
    await jobWhen(a.key, jobId, "completed")
    await jobWhen(a.key, poisoned, "failed")

    for (const id of [jobId, poisoned]) {
      const res = await call(app, b.key, "GET", `/api/jobs/${encodeURIComponent(id)}`)
      expect(res.status).toBe(404)
      const text = await res.text()
      expect(text).not.toContain("secret")
      expect(text).not.toContain("decode")
    }
    const listed = (await (await call(app, b.key, "GET", "/api/jobs?state=failed")).json()) as { jobs: Array<JobStatus> }
    expect(listed.jobs).toEqual([])
    const own = (await (await call(app, a.key, "GET", "/api/jobs?state=failed")).json()) as { jobs: Array<JobStatus> }
    expect(own.jobs.map((j) => j.jobId)).toEqual([poisoned])
  })
})
