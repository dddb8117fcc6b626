import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Queue } from "bullmq"
import { Redis } from "ioredis"
import { redisKeys } from "../../src/queues/keys.ts"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"
import { openIngest } from "../api/queue.ts"
import { openLive } from "../support/live.ts"
import { fastWindows, pointTotals, roomy, startDbHost, startProcess, windowTotals } from "../support/processes.ts"
import type { DbHost, Proc } from "../support/processes.ts"
import { startSink } from "../support/sink.ts"
import type { Sink } from "../support/sink.ts"

// Real processes: the embedded TimescaleDB served by workers/db.ts, the API in this process, and
// worker processes (workers/run.ts) started, stopped and killed by the tests.
let db: DbHost
let app: TestApp
let sink: Sink
const procs: Array<Proc> = []
const SECRET = "scale-secret-of-24-bytes-long"

beforeAll(async () => {
  db = await startDbHost()
  app = await startApp({ stages: [] }, { ...db.env })
  sink = await startSink(SECRET)
}, 120_000)
afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop(5_000)))
  await app?.close()
  await sink?.close()
  await db?.proc.stop()
})

const worker = (args: ReadonlyArray<string> = ["--stage", "all", "--concurrency", "2"]) => {
  const p = startProcess("workers/run.ts", args, {
    ...db.env, MPLP_QUEUE_PREFIX: app.prefix, MPLP_SECRET_KEY: app.env.MPLP_SECRET_KEY ?? "", MPLP_JOB_LOCK_MS: "3000", LOG_LEVEL: "warn", LOG_FORMAT: "json", MPLP_ALLOW_PRIVATE_WEBHOOKS: "true"
  })
  procs.push(p)
  return p
}

const count = (tenantId: string) => pointTotals(app, tenantId)
const windows = (tenantId: string) => windowTotals(app, tenantId)

/** `n` requests of `per` integer points, one 1-second window each, in the past. */
const load = async (key: string, n: number, per: number, onEach?: (i: number) => Promise<void>) => {
  const base = Math.floor(Date.now() / 1000) * 1000 - 3_600_000
  let total = 0
  for (let i = 0; i < n; i++) {
    const points = Array.from({ length: per }, (_, j) => ({ name: "work", value: (i * 7 + j) % 50, time: base + i * 1000 + j }))
    total += points.reduce((a, p) => a + p.value, 0)
    const res = await call(app, key, "POST", "/api/metrics", { points })
    expect(res.status).toBe(202)
    await onEach?.(i)
  }
  return total
}

describe("crash safety and scale-out across processes", () => {
  it("kill -9 of a worker under load: after a restart every point is stored once and window sums are exact", async () => {
    const t = await app.tenant(["ingest", "query"], fastWindows)
    const w1 = worker()
    let w2: Proc | undefined
    const total = await load(t.key, 60, 200, async (i) => {
      if (i === 25) {
        await eventually(async () => ((await count(t.id))?.n ?? 0) > 0 ? true : undefined, 30_000)
        w1.child.kill("SIGKILL")
        await w1.exited
      }
      if (i === 35) w2 = worker()
    })
    await eventually(async () => {
      const c = await count(t.id)
      const w = await windows(t.id)
      return c?.n === 60 * 200 && w?.n === 60 * 200 ? true : undefined
    }, 90_000, 500)
    expect(await count(t.id)).toEqual({ n: 12_000, s: total })
    expect(await windows(t.id)).toEqual({ n: 12_000, s: total })
    await w2?.stop()
  }, 150_000)

  it("SIGTERM: a worker finishes or hands back its jobs and exits within 10 s; nothing acknowledged is lost", async () => {
    const t = await app.tenant(["ingest", "query"], fastWindows)
    const w1 = worker()
    const total = await load(t.key, 30, 200)
    await eventually(async () => (((await count(t.id))?.n ?? 0) > 0 ? true : undefined), 30_000) // it is up and working
    const t0 = Date.now()
    expect(await w1.stop()).toBe(0)
    expect(Date.now() - t0).toBeLessThan(10_000)
    const w2 = worker()
    await eventually(async () => ((await windows(t.id))?.n === 6_000 ? true : undefined), 90_000, 500)
    expect(await count(t.id)).toEqual({ n: 6_000, s: total })
    expect(await windows(t.id)).toEqual({ n: 6_000, s: total })
    await w2.stop()
  }, 150_000)

  it("a poison batch dead-letters after its retry budget while other tenants flow", async () => {
    const a = await app.tenant()
    const b = await app.tenant(["ingest", "query"], fastWindows)
    const w = worker()
    // A batch that passes the API's checks but that the database refuses (a NUL byte): a stand-in for a bug.
    const connection = new Redis("redis://127.0.0.1:6379", { maxRetriesPerRequest: null })
    const ingest = openIngest(connection, app.env)
    const jobId = `${a.id}.poison`
    // Held as the API would hold it (src/aggregation/holds.ts): the dead letter must release the hold.
    const holdKey = (name: string) => redisKeys(app.env.MPLP_QUEUE_PREFIX ?? "").tenant(a.id, name)
    await connection.zadd(holdKey("hold-ev"), Date.now(), jobId)
    await connection.zadd(holdKey("hold-at"), Date.now(), jobId)
    await ingest.add("metrics", {
      _tag: "metrics", tenantId: a.id, receivedAtMs: Date.now(), source: "native",
      points: [{ name: "bad\u0000name", value: 1, timeMs: Date.now(), serviceName: "", traceId: null, attributes: {} }]
    }, { jobId, attempts: 3, backoff: { type: "fixed", delay: 300 } })
    await load(b.key, 10, 100)
    await eventually(async () => ((await windows(b.id))?.n === 1_000 ? true : undefined), 60_000, 300)
    const failed = await eventually(async () => {
      const r = await call(app, a.key, "GET", `/api/jobs/${jobId}`)
      const body = (await r.json()) as { state: string; attempts: number; failedReason?: string }
      return body.state === "failed" ? body : undefined
    }, 30_000)
    expect(failed.attempts).toBe(3)
    expect(failed.failedReason).toMatch(/0x00|null character|invalid byte/i)
    const listed = (await (await call(app, a.key, "GET", "/api/jobs?state=failed")).json()) as { jobs: Array<{ jobId: string }> }
    expect(listed.jobs.map((j) => j.jobId)).toContain(jobId)
    const other = (await (await call(app, b.key, "GET", "/api/jobs?state=failed")).json()) as { jobs: Array<{ jobId: string }> }
    expect(other.jobs).toHaveLength(0)
    expect((await call(app, b.key, "GET", `/api/jobs/${jobId}`)).status).toBe(404)
    await eventually(async () => ((await connection.zcard(holdKey("hold-ev"))) + (await connection.zcard(holdKey("hold-at"))) === 0 ? true : undefined))
    await ingest.close()
    await connection.quit()
    await w.stop()
  }, 120_000)

  it("an execution left open times out, even when the process holding its trace actor died; the API's live view shows what the worker processes did", async () => {
    const t = await app.tenant(["ingest", "query"], {
      traceTimeoutSeconds: 3,
      channels: [{ id: "sink", type: "webhook", url: sink.url, secret: SECRET }]
    })
    // The live view is served here (the API process, no stages); the trace actors run in the workers.
    const live = await openLive(app, t.key)
    const w1 = worker()
    const start = await call(app, t.key, "POST", "/api/executions", { operationName: "crawl", serviceName: "agent", context: { contextId: "c", userId: "u" } })
    const { traceId } = (await start.json()) as { traceId: string }
    const other = await call(app, t.key, "POST", "/api/executions", { operationName: "quick", serviceName: "agent", context: { contextId: "c", userId: "u" } })
    const { traceId: finished } = (await other.json()) as { traceId: string }
    expect((await call(app, t.key, "POST", `/api/executions/${finished}/finish`, { success: true })).status).toBe(202)
    await eventually(async () => {
      const r = await app.sql<{ status: string }>("SELECT status FROM executions WHERE tenant_id = $1 AND trace_id = $2", [t.id, finished])
      return r[0]?.status === "completed" ? true : undefined
    }, 30_000)
    w1.child.kill("SIGKILL")
    await w1.exited
    const w2 = worker()
    const timedOut = await eventually(async () => {
      const r = await call(app, t.key, "GET", `/api/executions/${traceId}`)
      const body = (await r.json()) as { status: string }
      return body.status === "timed_out" ? body : undefined
    }, 60_000, 500)
    expect(timedOut.status).toBe("timed_out")
    const alert = await eventually(async () => sink.received.find((m) => m.body.type === "execution_timeout" && m.body.data.traceId === traceId), 30_000)
    expect(alert.validSignature).toBe(true)
    const alerts = await app.sql<{ type: string; trace_id: string }>("SELECT type, trace_id FROM alerts WHERE tenant_id = $1", [t.id])
    expect(alerts).toEqual([{ type: "execution_timeout", trace_id: traceId }])
    await live.until(() => live.events.find((e) => e.event === "timeout" && e.data.execution.executionId === traceId))
    const seen = (id: string) => live.events.filter((e) => e.data.execution.executionId === id).map((e) => `${e.event}:${e.data.execution.status}`)
    expect(seen(finished)).toEqual(["start:active", "finish:completed"])
    expect(seen(traceId)).toEqual(["start:active", "timeout:timed_out"])
    await live.close()
    await w2.stop()
  }, 150_000)

  it("two worker processes per stage give the same windows, anomalies and alerts as one", async () => {
    const settings = {
      windows: { sizeSeconds: 1, allowedLatenessSeconds: 10, idleTimeoutSeconds: 86_400 },
      detector: { warmupWindows: 5 },
      alerting: { cooldownSeconds: 3600, resolveAfterWindows: 2 },
      channels: [],
      ...roomy
    }
    const base = Math.floor(Date.now() / 1000) * 1000 - 7_200_000
    const level = (i: number) => (i === 15 || i === 16 ? 400 : i === 30 ? 5 : 100)
    const run = async (tenant: { id: string; key: string }, workers: number) => {
      // Both runs start with every worker process up, so neither begins with a backlog burst.
      await eventually(async () => ((await ingestQueue.getWorkersCount()) >= workers ? true : undefined), 60_000, 200)
      for (let i = 0; i < 50; i++) {
        const points = Array.from({ length: 20 }, (_, j) => ({ name: "rps", value: level(i) + (j % 5), time: base + i * 1000 + j * 40, serviceName: "api" }))
        expect((await call(app, tenant.key, "POST", "/api/metrics", { points })).status).toBe(202)
        // 10 s of allowed lateness = 10 batches = 1 s of wall time: a batch held up longer than that on a
        // busy machine would arrive behind the watermark (stored, not evaluated, by design) in one run only.
        await new Promise((r) => setTimeout(r, 100))
      }
      await eventually(async () => {
        const r = await app.sql<{ n: number }>("SELECT count(*)::int AS n FROM metric_windows WHERE tenant_id = $1 AND evaluated_at IS NOT NULL", [tenant.id])
        const p = await app.sql<{ n: number }>("SELECT count(*)::int AS n FROM pending_evaluations WHERE tenant_id = $1", [tenant.id])
        return (r[0]?.n ?? 0) >= 39 && p[0]?.n === 0 ? true : undefined // windows 0..39 are behind the watermark
      }, 90_000, 500)
      await new Promise((r) => setTimeout(r, 1500))
      return {
        windows: await app.sql("SELECT series_key, extract(epoch FROM window_start - to_timestamp($2 / 1000.0))::int AS w, count::int, sum, min, max FROM metric_windows WHERE tenant_id = $1 ORDER BY 1, 2", [tenant.id, base]),
        anomalies: await app.sql("SELECT series_key, method, extract(epoch FROM window_start - to_timestamp($2 / 1000.0))::int AS w, severity FROM anomalies WHERE tenant_id = $1 ORDER BY 1, 2, 3", [tenant.id, base]),
        alerts: await app.sql("SELECT rule, severity, state, occurrences FROM alerts WHERE tenant_id = $1 ORDER BY opened_at", [tenant.id])
      }
    }
    const connection = new Redis("redis://127.0.0.1:6379", { maxRetriesPerRequest: null })
    const ingestQueue = openIngest(connection, app.env)
    const one = worker()
    const single = await run(await app.tenant(["ingest", "query"], settings), 1)
    await one.stop()
    await eventually(async () => ((await ingestQueue.getWorkersCount()) === 0 ? true : undefined), 30_000, 200)
    const a = worker()
    const b = worker()
    const double = await run(await app.tenant(["ingest", "query"], settings), 2)
    await ingestQueue.close()
    await connection.quit()
    expect(single.anomalies.length).toBeGreaterThan(0)
    expect(single.alerts.length).toBeGreaterThan(0)
    expect(double).toEqual(single)
    await Promise.all([a.stop(), b.stop()])
  }, 240_000)

  it("a database restart: the API answers 503 with Retry-After meanwhile, workers reconnect and catch up exactly", async () => {
    const t = await app.tenant(["ingest", "query"], fastWindows)
    const w = worker()
    const before = await load(t.key, 5, 100)
    await eventually(async () => ((await count(t.id))?.n === 500 ? true : undefined), 60_000, 300)
    const traceStart = await call(app, t.key, "POST", "/api/executions", { operationName: "op", serviceName: "s", context: { contextId: "c", userId: "u" } })
    const { traceId } = (await traceStart.json()) as { traceId: string }
    await eventually(async () => ((await call(app, t.key, "GET", `/api/executions/${traceId}`)).status === 200 ? true : undefined), 30_000, 200)
    expect(await db.proc.stop()).toBe(0)
    const down = await eventually(async () => {
      const r = await call(app, t.key, "GET", `/api/executions/${traceId}`)
      return r.status === 503 ? r : undefined
    }, 20_000, 200)
    expect(down.headers.get("retry-after")).not.toBeNull()
    db = await startDbHost(db.dataDir, db.port)
    const after = await load(t.key, 5, 100)
    await eventually(async () => ((await windows(t.id))?.n === 1_000 ? true : undefined), 120_000, 500)
    expect(await count(t.id)).toEqual({ n: 1_000, s: before + after })
    expect((await call(app, t.key, "GET", `/api/executions/${traceId}`)).status).toBe(200)
    await w.stop()
  }, 240_000)
})
