import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { Redis } from "ioredis"
import { releaseBacklogAndHold, reserveBacklog } from "../../src/ingest/Backlog.ts"
import type { RedisService } from "../../src/queues/Redis.ts"
import { partitionOf, redisKeys } from "../../src/queues/keys.ts"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"
import { openIngest } from "../api/queue.ts"

const point = (name: string, value = 1) => ({ name, value, time: Date.now() - 60_000, serviceName: "svc" })
const batch = (n: number) => ({ points: Array.from({ length: n }, (_, i) => point("m", i)) })
/** A POST whose body is streamed (Transfer-Encoding: chunked): no Content-Length. */
const postChunked = (app: TestApp, key: string, body: unknown) => {
  const bytes = new TextEncoder().encode(JSON.stringify(body))
  return fetch(`${app.baseUrl}/api/metrics`, {
    method: "POST", headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: new ReadableStream({ start: (c) => { c.enqueue(bytes); c.close() } }), duplex: "half"
  } as RequestInit)
}

let queued: TestApp // no ingest stage: what is accepted stays in the backlog
let full: TestApp
let redis: Redis
beforeAll(async () => {
  queued = await startApp({ stages: ["aggregate"] }, { MPLP_QUEUE_PARTITIONS: "4" })
  full = await startApp()
  redis = new Redis("redis://127.0.0.1:6379", { maxRetriesPerRequest: null })
})
afterAll(async () => {
  await redis.quit()
  await Promise.all([queued.close(), full.close()])
})

describe("a tenant's share of the ingest backlog (limits.maxBacklogPoints, maxBacklogBytes)", () => {
  it("refuses the tenant over its share with 429 and Retry-After, while another tenant is accepted", async () => {
    const a = await queued.tenant(["ingest"], { limits: { maxBacklogPoints: 10 } })
    const b = await queued.tenant(["ingest"], { limits: { maxBacklogPoints: 10 } })
    expect((await call(queued, a.key, "POST", "/api/metrics", batch(8))).status).toBe(202)
    const over = await call(queued, a.key, "POST", "/api/metrics", batch(8))
    expect(over.status).toBe(429)
    expect(over.headers.get("retry-after")).toBe("1")
    expect(((await over.json()) as { message: string }).message).toMatch(/has 8 points .* share of the ingest backlog is 10 points .*maxBacklogPoints/)
    expect((await call(queued, b.key, "POST", "/api/metrics", batch(8))).status).toBe(202)
    // A batch larger than the whole share is still taken into an empty share (else it never could be).
    const c = await queued.tenant(["ingest"], { limits: { maxBacklogPoints: 10 } })
    expect((await call(queued, c.key, "POST", "/api/metrics", batch(50))).status).toBe(202)

    // Each tenant's batches are in its own partition's queue.
    const partitions = openIngest(redis, queued.env)
    try {
      for (const t of [a, b, c]) {
        const jobs = await partitions.queues[partitionOf(t.id, 4)]!.getJobs(["wait", "prioritized"])
        expect(jobs.filter((j) => j.id?.startsWith(`${t.id}.`))).toHaveLength(1)
      }
      expect(await partitions.getJobCountByTypes("wait", "prioritized")).toBe(3)
    } finally {
      await partitions.close()
    }
  })

  it("puts a batch behind as many priority steps as its tenant has thousands of points waiting", async () => {
    const loud = await queued.tenant(["ingest"])
    const quiet = await queued.tenant(["ingest"])
    const ids: Array<string> = []
    for (const [t, n] of [[loud, 2500], [loud, 10], [quiet, 1]] as const) {
      const r = await call(queued, t.key, "POST", "/api/metrics", batch(n))
      expect(r.status).toBe(202)
      ids.push(((await r.json()) as { jobId: string }).jobId)
    }
    const partitions = openIngest(redis, queued.env)
    try {
      const priorities = await Promise.all(ids.map(async (id) => (await partitions.getJob(id))?.opts.priority))
      expect(priorities).toEqual([1, 3, 1])
    } finally {
      await partitions.close()
    }
  })

  it("queues a backlogged tenant's batches in its partition's bulk lane; its partition's other tenants keep the main lane", async () => {
    const loud = await queued.tenant(["ingest", "query"])
    // A quiet tenant that hashes to the loud tenant's partition (4 partitions here).
    let quiet = await queued.tenant(["ingest", "query"])
    while (partitionOf(quiet.id, 4) !== partitionOf(loud.id, 4)) quiet = await queued.tenant(["ingest", "query"])
    const post = async (t: { key: string }, n: number) => {
      const r = await call(queued, t.key, "POST", "/api/metrics", batch(n))
      expect(r.status).toBe(202)
      return ((await r.json()) as { jobId: string }).jobId
    }
    const loudIds: Array<string> = []
    for (let i = 0; i < 6; i++) loudIds.push(await post(loud, 10))
    const quietId = await post(quiet, 1)
    // Points count too: a tenant with 5,000 points waiting goes to the bulk lane from its second batch.
    const big = await queued.tenant(["ingest"], { quotas: { pointsPerSecond: 100_000 } })
    const bigIds = [await post(big, 5_000), await post(big, 1)]

    const partitions = openIngest(redis, queued.env)
    try {
      const laneOf = async (id: string, tenantId: string) => {
        const n = partitionOf(tenantId, 4)
        if ((await partitions.queues[n]!.getJob(id)) !== undefined) return "main"
        if ((await partitions.bulk[n]!.getJob(id)) !== undefined) return "bulk"
        return "none"
      }
      expect(await Promise.all(loudIds.map((id) => laneOf(id, loud.id)))).toEqual(["main", "main", "main", "main", "bulk", "bulk"])
      expect(await laneOf(quietId, quiet.id)).toBe("main")
      expect(await Promise.all(bigIds.map((id) => laneOf(id, big.id)))).toEqual(["main", "bulk"])
    } finally {
      await partitions.close()
    }
    // The job's status is found in either lane.
    const status = await call(queued, loud.key, "GET", `/api/jobs/${loudIds[5]}`)
    expect(status.status).toBe(200)
    expect(((await status.json()) as { state: string }).state).toMatch(/^(waiting|prioritized)$/)
  })

  it("answers a repeated reservation of a job id (a retried Idempotency-Key) with the lane of the first", async () => {
    const t = await queued.tenant(["ingest"])
    const service = { client: redis, keys: redisKeys(queued.prefix) } as unknown as RedisService
    const share = { maxBacklogPoints: 1_000_000, maxBacklogBytes: 1_000_000_000 }
    const reserve = (jobId: string) => Effect.runPromise(reserveBacklog(service, t.id, jobId, 10, 100, share))
    const lanes: Array<string> = []
    for (let i = 0; i < 5; i++) {
      const r = await reserve(`${t.id}.j${i}`)
      lanes.push(r._tag === "Reserved" ? r.lane : r._tag)
    }
    expect(lanes).toEqual(["main", "main", "main", "main", "bulk"])
    // The four before it are stored: the repeated one answers where it was; a new batch follows it into
    // the bulk lane while it waits there (one lane change per backlog), and goes back to main after it.
    for (let i = 0; i < 4; i++) await releaseBacklogAndHold(service, t.id, `${t.id}.j${i}`)
    expect(await reserve(`${t.id}.j4`)).toMatchObject({ _tag: "Reserved", lane: "bulk" })
    expect(await reserve(`${t.id}.j5`)).toMatchObject({ _tag: "Reserved", lane: "bulk" })
    for (const j of ["j4", "j5"]) await releaseBacklogAndHold(service, t.id, `${t.id}.${j}`)
    expect(await reserve(`${t.id}.j6`)).toMatchObject({ _tag: "Reserved", lane: "main" })
    await releaseBacklogAndHold(service, t.id, `${t.id}.j6`)
    // Each release takes back exactly what its reservation counted.
    const left = await redis.hgetall(redisKeys(queued.prefix).tenant(t.id, "backlog"))
    expect([left.__points, left.__bytes, left.__bulk]).toEqual(["0", "0", "0"])
  })

  it("keeps an execution's start, update and finish in its tenant's lane: they never open the bulk lane, and follow the spans into it", async () => {
    const t = await queued.tenant(["ingest"])
    const service = { client: redis, keys: redisKeys(queued.prefix) } as unknown as RedisService
    const share = { maxBacklogPoints: 1_000_000, maxBacklogBytes: 1_000_000_000 }
    const reserve = async (jobId: string, opensBulk: boolean) => {
      const r = await Effect.runPromise(reserveBacklog(service, t.id, jobId, 1, 100, share, undefined, opensBulk))
      return r._tag === "Reserved" ? r.lane : r._tag
    }
    // Four span batches wait in the main lane: the finish of their execution queues behind them there
    // (in the bulk lane it would be stored before them, and its execution_completed would miss them).
    for (let i = 0; i < 4; i++) expect(await reserve(`${t.id}.spans${i}`, true)).toBe("main")
    expect(await reserve(`${t.id}.finish`, false)).toBe("main")
    // A fifth span batch opens the bulk lane: the next finish follows it there, and so does a start.
    expect(await reserve(`${t.id}.spans4`, true)).toBe("bulk")
    expect(await reserve(`${t.id}.finish2`, false)).toBe("bulk")
    for (let i = 0; i < 4; i++) await releaseBacklogAndHold(service, t.id, `${t.id}.spans${i}`)
    expect(await reserve(`${t.id}.start3`, false)).toBe("bulk")
    for (const j of ["finish", "spans4", "finish2", "start3"]) await releaseBacklogAndHold(service, t.id, `${t.id}.${j}`)
    expect(await reserve(`${t.id}.start4`, false)).toBe("main")
  })

  it("stores an execution's finish after the batches its tenant sent before it, not before", async () => {
    const t = await full.tenant(["ingest", "query"])
    const start = await call(full, t.key, "POST", "/api/executions", { operationName: "report", serviceName: "writer", context: { contextId: "c-1", userId: "u-1" } })
    expect(start.status).toBe(201)
    const { executionId } = (await start.json()) as { executionId: string }
    const status = async () => ((await (await call(full, t.key, "GET", `/api/executions/${executionId}`)).json()) as { status: string }).status
    await eventually(async () => (await status()) === "active" ? true : undefined)
    // A batch accepted before the finish and not stored yet (reserved here as the API would, never queued:
    // as if it were slow, or still retrying).
    const service = { client: redis, keys: redisKeys(full.prefix) } as unknown as RedisService
    const share = { maxBacklogPoints: 1_000_000, maxBacklogBytes: 1_000_000_000 }
    await Effect.runPromise(reserveBacklog(service, t.id, `${t.id}.earlier`, 1, 1, share))
    const finish = await call(full, t.key, "POST", `/api/executions/${executionId}/finish`, { success: true })
    expect(finish.status).toBe(202)
    // The finish waits in its queue's delayed set while the earlier batch is not stored ...
    await new Promise((r) => setTimeout(r, 1_500))
    expect(await status()).toBe("active")
    // ... and is stored once it is.
    await releaseBacklogAndHold(service, t.id, `${t.id}.earlier`)
    await eventually(async () => (await status()) === "completed" ? true : undefined)
  })

  it("has the ingest stage's workers on every partition's bulk lane, which store what is queued there", async () => {
    const partitions = openIngest(redis, full.env)
    try {
      const counts = await Promise.all(partitions.bulk.map((q) => q.getWorkersCount()))
      expect(counts.length).toBe(Number(full.env.MPLP_QUEUE_PARTITIONS ?? 8))
      expect(counts.every((n) => n >= 1)).toBe(true)
      // The tenant has four batches waiting (reserved here as the API would), so its next one goes to the bulk lane.
      const t = await full.tenant(["ingest", "query"])
      const service = { client: redis, keys: redisKeys(full.prefix) } as unknown as RedisService
      const share = { maxBacklogPoints: 1_000_000, maxBacklogBytes: 1_000_000_000 }
      for (let i = 0; i < 4; i++) await Effect.runPromise(reserveBacklog(service, t.id, `${t.id}.waiting${i}`, 1, 1, share))
      const r = await call(full, t.key, "POST", "/api/metrics", batch(50))
      expect(r.status).toBe(202)
      const { jobId } = (await r.json()) as { jobId: string }
      await eventually(async () => {
        const n = await full.sql<{ n: number }>("SELECT count(*)::int AS n FROM metric_points WHERE tenant_id = $1", [t.id])
        return n[0]?.n === 50 ? true : undefined
      })
      const bulkDone = await eventually(async () => {
        const done = (await partitions.bulk[partitionOf(t.id, partitions.bulk.length)]!.getCompleted()).filter((j) => j.id === jobId)
        return done.length > 0 ? done : undefined
      })
      expect(bulkDone.length).toBeGreaterThan(0)
    } finally {
      await partitions.close()
    }
  })

  it("gives the share back once the batches are stored", async () => {
    const t = await full.tenant(["ingest", "query"], { limits: { maxBacklogPoints: 10 } })
    for (let i = 0; i < 3; i++) {
      expect((await call(full, t.key, "POST", "/api/metrics", batch(8))).status).toBe(202)
      await eventually(async () => {
        const n = await full.sql<{ n: number }>("SELECT count(*)::int AS n FROM metric_points WHERE tenant_id = $1", [t.id])
        return n[0]?.n === 8 * (i + 1) ? true : undefined
      })
      await eventually(async () => (Number(await redis.hget(redisKeys(full.prefix).tenant(t.id, "backlog"), "__points")) === 0 ? true : undefined))
    }
  })

  it("stores a chunked batch (no Content-Length) on its first attempt and gives its share back", async () => {
    const t = await full.tenant(["ingest", "query"])
    const res = await postChunked(full, t.key, batch(5))
    expect(res.status).toBe(202)
    const { jobId } = (await res.json()) as { jobId: string }
    // Reserved as "5 0" before its bytes were counted, its release gave HINCRBY a -0, which Redis refuses: the stored batch failed and ran again.
    const job = await eventually(async () => {
      const r = await call(full, t.key, "GET", `/api/jobs/${jobId}`)
      const j = (await r.json()) as { state: string; attempts: number }
      return j.state === "completed" ? j : undefined
    })
    expect(job.attempts).toBe(1)
    const share = await redis.hgetall(redisKeys(full.prefix).tenant(t.id, "backlog"))
    expect([share.__points, share.__bytes, share[jobId]]).toEqual(["0", "0", undefined])
  })
})

describe("bytes per tenant and second (quotas.bytesPerSecond)", () => {
  it("refuses bodies over the tenant's bytes per second with 429", async () => {
    const t = await full.tenant(["ingest"], { quotas: { bytesPerSecond: 2048 } })
    const body = batch(20) // ~1.3 KB
    expect(JSON.stringify(body).length).toBeGreaterThan(1100)
    const statuses: Array<number> = []
    let message = ""
    for (let i = 0; i < 3; i++) {
      const r = await call(full, t.key, "POST", "/api/metrics", body)
      statuses.push(r.status)
      if (r.status === 429) message = ((await r.json()) as { message: string }).message
    }
    expect(statuses).toContain(429)
    expect(message).toMatch(/2048 request bytes per second \(settings\.quotas\.bytesPerSecond\)/)
  })
  it("counts a chunked body's bytes as received (it has no Content-Length)", async () => {
    const t = await full.tenant(["ingest"], { quotas: { bytesPerSecond: 2048 } })
    const statuses: Array<number> = []
    for (let i = 0; i < 3; i++) statuses.push((await postChunked(full, t.key, batch(20))).status)
    expect(statuses).toContain(429)
  })
})
