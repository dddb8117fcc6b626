import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Redis } from "ioredis"
import { randomBytes } from "node:crypto"
import { redisKeys } from "../../src/queues/keys.ts"
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

interface Execution {
  traceId: string
  spanId: string
  status: string
  source: string
  operationName: string
  serviceName: string
  progressPercentage: number | null
  currentOperation: string | null
  durationMs: number | null
  endTime: string | null
  metrics: Record<string, unknown>
  result: Record<string, unknown> | null
  errors: Array<unknown>
  events: Array<{ eventName: string; eventType: string; timestamp: string; metadata: Record<string, unknown> }>
}

const startBody = (extra: Record<string, unknown> = {}) => ({
  operationName: "plan-trip",
  serviceName: "planner-agent",
  context: { contextId: "ctx-1", userId: "user-1" },
  ...extra
})

const getExecution = (key: string, traceId: string) => call(app, key, "GET", `/api/executions/${traceId}`)

/** The execution once `ready` holds for it. */
const executionWhen = (key: string, traceId: string, ready: (e: Execution) => boolean) =>
  eventually(async () => {
    const res = await getExecution(key, traceId)
    if (res.status !== 200) return undefined
    const e = (await res.json()) as Execution
    return ready(e) ? e : undefined
  })

const traceIdHex = () => randomBytes(16).toString("hex")

describe("execution lifecycle", () => {
  it("start answers 201 with W3C ids; update and finish answer 202; GET shows status, events and metrics", async () => {
    const t = await app.tenant()
    const before = Date.now()
    const started = await call(app, t.key, "POST", "/api/executions", startBody())
    expect(started.status).toBe(201)
    const s = (await started.json()) as { traceId: string; spanId: string; status: string; startTime: string }
    expect(s.traceId).toMatch(/^(?!0{32})[0-9a-f]{32}$/)
    expect(s.spanId).toMatch(/^(?!0{16})[0-9a-f]{16}$/)
    expect(s.status).toBe("active")
    expect(Date.parse(s.startTime)).toBeGreaterThanOrEqual(before - 1000)
    expect(new Date(s.startTime).toISOString()).toBe(s.startTime)

    const active = await executionWhen(t.key, s.traceId, (e) => e.status === "active")
    expect(active).toMatchObject({ traceId: s.traceId, spanId: s.spanId, operationName: "plan-trip", serviceName: "planner-agent", source: "api" })

    const eventTime = new Date(Date.now() - 50).toISOString()
    const updated = await call(app, t.key, "PATCH", `/api/executions/${s.traceId}`, {
      progressPercentage: 40,
      currentOperation: "searching flights",
      metrics: { cpuUsagePercent: 37.5, memoryUsageMb: 512 },
      events: [{ eventName: "tool-call", eventType: "tool", timestamp: eventTime, metadata: { tool: "flights" } }]
    })
    expect(updated.status).toBe(202)
    expect(((await updated.json()) as { jobId: string }).jobId).toEqual(expect.any(String))
    const midway = await executionWhen(t.key, s.traceId, (e) => e.progressPercentage === 40)
    expect(midway).toMatchObject({ status: "active", currentOperation: "searching flights", metrics: { cpuUsagePercent: 37.5, memoryUsageMb: 512 } })
    expect(midway.events).toEqual([{ eventName: "tool-call", eventType: "tool", timestamp: eventTime, metadata: { tool: "flights" } }])

    const finished = await call(app, t.key, "POST", `/api/executions/${s.traceId}/finish`, {
      success: true, durationMs: 1234, performanceScore: 0.9, finalMetrics: { responseTimeMs: 1234 }
    })
    expect(finished.status).toBe(202)
    const done = await executionWhen(t.key, s.traceId, (e) => e.status !== "active")
    expect(done).toMatchObject({
      status: "completed",
      progressPercentage: 100,
      currentOperation: null,
      durationMs: 1234,
      metrics: { cpuUsagePercent: 37.5, memoryUsageMb: 512, responseTimeMs: 1234 },
      result: { success: true }
    })
    expect(Date.parse(done.endTime ?? "") - Date.parse(s.startTime)).toBe(1234)
    expect(done.events).toHaveLength(1)

    // The execution's numbers are metric points too, tied to the trace.
    const points = await app.sql<{ name: string; value: number }>(
      "SELECT name, value FROM metric_points WHERE tenant_id = $1 AND trace_id = $2 ORDER BY name", [t.id, s.traceId]
    )
    expect(points).toEqual([
      { name: "cpuUsagePercent", value: 37.5 },
      { name: "memoryUsageMb", value: 512 },
      { name: "responseTimeMs", value: 1234 }
    ])
  })

  it("an idle execution times out traceTimeoutSeconds after its last update, not after its start, with one alert", async () => {
    const t = await app.tenant(["ingest", "query"], { traceTimeoutSeconds: 3 })
    const s = (await (await call(app, t.key, "POST", "/api/executions", startBody())).json()) as { traceId: string }
    await executionWhen(t.key, s.traceId, (e) => e.status === "active")
    const started = Date.now() // the start's deadline is at most 3 s from now
    await new Promise((r) => setTimeout(r, 1_500))
    const sent = Date.now() // the update's deadline is 3 s after it was processed, so after sent + 3 s
    expect((await call(app, t.key, "PATCH", `/api/executions/${s.traceId}`, { progressPercentage: 10 })).status).toBe(202)
    await executionWhen(t.key, s.traceId, (e) => e.progressPercentage === 10)
    // The update moved the execution's idle deadline (its score in the tenant's deadline set) to 3 s after
    // the update, past the start's: read from Redis, so no machine is too slow for this check.
    const redis = new Redis("redis://127.0.0.1:6379")
    const deadlineMs = Number(await redis.zscore(redisKeys(app.prefix).tenant(t.id, "traces"), s.traceId))
    redis.disconnect()
    expect(deadlineMs).toBeGreaterThanOrEqual(sent + 2_990)
    expect(deadlineMs).toBeGreaterThan(started + 3_000)
    const timedOut = await executionWhen(t.key, s.traceId, (e) => e.status === "timed_out")
    expect(Date.parse(timedOut.endTime ?? "")).toBeGreaterThanOrEqual(sent + 2_990)
    await eventually(async () => ((await app.sql("SELECT 1 FROM alerts WHERE tenant_id = $1", [t.id])).length > 0 ? true : undefined))
    await new Promise((r) => setTimeout(r, 500))
    expect(await app.sql("SELECT type FROM alerts WHERE tenant_id = $1", [t.id])).toEqual([{ type: "execution_timeout" }])
  }, 30_000)

  it("a failed finish marks the execution failed with its error", async () => {
    const t = await app.tenant()
    const s = (await (await call(app, t.key, "POST", "/api/executions", startBody())).json()) as { traceId: string }
    expect((await call(app, t.key, "POST", `/api/executions/${s.traceId}/finish`, { success: false, errorMessage: "model timed out" })).status).toBe(202)
    const done = await executionWhen(t.key, s.traceId, (e) => e.status !== "active")
    expect(done.status).toBe("failed")
    expect(done.errors).toEqual(["model timed out"])
    expect(done.result).toMatchObject({ success: false, errorMessage: "model timed out" })
  })

  it("start, update and finish sent in one burst take effect in that order, even when the update's body is the biggest", async () => {
    const t = await app.tenant()
    const runs = Array.from({ length: 6 }, (_, i) => ({ traceId: traceIdHex(), events: i % 2 === 0 ? 1 : 1000 }))
    const responses = await Promise.all(
      runs.flatMap(({ traceId, events }) => [
        call(app, t.key, "POST", "/api/executions", startBody({ traceId })),
        call(app, t.key, "PATCH", `/api/executions/${traceId}`, {
          status: "paused", progressPercentage: 50, currentOperation: "waiting",
          metrics: { responseTimeMs: 1 },
          events: Array.from({ length: events }, (_, i) => ({ eventName: `e${i}`, eventType: "progress", timestamp: Date.now() + i, metadata: { pad: "x".repeat(200) } }))
        }),
        call(app, t.key, "POST", `/api/executions/${traceId}/finish`, { success: true, finalMetrics: { responseTimeMs: 2 } })
      ])
    )
    expect(responses.map((r) => r.status)).toEqual(runs.flatMap(() => [201, 202, 202]))
    for (const { traceId, events } of runs) {
      // The big update's upload may end after the finish's (it is then step 3): every step still takes
      // effect, and the finish stays the last word.
      const done = await executionWhen(t.key, traceId, (e) => e.status !== "active" && e.status !== "paused" && e.events.length === events)
      // Finish last: its status, progress, cleared operation and final metric win over the update's.
      expect(done).toMatchObject({ status: "completed", progressPercentage: 100, currentOperation: null, metrics: { responseTimeMs: 2 } })
    }
    const seqs = await app.sql<{ last_seq: string }>("SELECT last_seq::text FROM executions WHERE tenant_id = $1", [t.id])
    expect(seqs.map((r) => r.last_seq)).toEqual(runs.map(() => "3"))
  })

  /** A request body whose upload stops after 10 bytes until `release()`: to force an arrival order. */
  const heldBack = (body: Uint8Array) => {
    let release = () => {}
    const gate = new Promise<void>((resolve) => (release = resolve))
    const stream = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(body.subarray(0, 10))
        await gate
        controller.enqueue(body.subarray(10))
        controller.close()
      }
    })
    return { stream, release: () => release() }
  }

  it("an update that overtakes its start (the start's upload is slower) waits for it instead of a 404", async () => {
    const t = await app.tenant()
    const traceId = traceIdHex()
    const body = new TextEncoder().encode(JSON.stringify(startBody({ traceId })))
    const { stream: slow, release } = heldBack(body)
    const start = fetch(`${app.baseUrl}/api/executions`, {
      method: "POST", headers: { authorization: `Bearer ${t.key}`, "content-type": "application/json" }, body: slow, duplex: "half"
    } as RequestInit)
    const update = call(app, t.key, "PATCH", `/api/executions/${traceId}`, { progressPercentage: 20 })
    await new Promise((r) => setTimeout(r, 200))
    release()
    expect([(await start).status, (await update).status]).toEqual([201, 202])
    await executionWhen(t.key, traceId, (e) => e.progressPercentage === 20)
  })

  it("an update whose upload ends after the finish was accepted cannot undo the finish", async () => {
    const t = await app.tenant()
    const s = (await (await call(app, t.key, "POST", "/api/executions", startBody())).json()) as { traceId: string }
    const body = new TextEncoder().encode(JSON.stringify({
      status: "paused", progressPercentage: 50, currentOperation: "waiting", metrics: { responseTimeMs: 1, tokens: 10 },
      events: [{ eventName: "slow-upload", eventType: "progress", timestamp: Date.now() }]
    }))
    const { stream: slow, release } = heldBack(body)
    const update = fetch(`${app.baseUrl}/api/executions/${s.traceId}`, {
      method: "PATCH", headers: { authorization: `Bearer ${t.key}`, "content-type": "application/json" }, body: slow, duplex: "half"
    } as RequestInit)
    const finish = await call(app, t.key, "POST", `/api/executions/${s.traceId}/finish`, { success: true, finalMetrics: { responseTimeMs: 2 } })
    expect(finish.status).toBe(202)
    release()
    expect((await update).status).toBe(202)
    const done = await executionWhen(t.key, s.traceId, (e) => e.events.length === 1)
    expect(done).toMatchObject({ status: "completed", progressPercentage: 100, currentOperation: null, metrics: { responseTimeMs: 2, tokens: 10 } })
  })

  it("a read never shows an update's events without its metrics: row and events are one snapshot", async () => {
    const t = await app.tenant()
    const s = (await (await call(app, t.key, "POST", "/api/executions", startBody())).json()) as { traceId: string }
    const steps = 25
    let seen = 0
    let writing = true
    const reads = (async () => {
      const torn: Array<string> = []
      while (writing || seen < steps) {
        const res = await getExecution(t.key, s.traceId)
        // Until the start is stored (it goes through the queue) the execution is not there yet.
        if (res.status === 404) continue
        if (res.status !== 200) {
          torn.push(`GET answered ${res.status}: ${await res.text()}`)
          continue
        }
        const e = (await res.json()) as Execution
        const step = Number(e.metrics.step ?? 0)
        if (e.events.length !== step) torn.push(`${e.events.length} events beside step ${step}`)
        seen = Math.max(seen, step)
      }
      return torn
    })()
    for (let i = 1; i <= steps; i++) {
      const res = await call(app, t.key, "PATCH", `/api/executions/${s.traceId}`, {
        metrics: { step: i }, events: [{ eventName: `e${i}`, eventType: "progress", timestamp: Date.now() + i }]
      })
      expect(res.status).toBe(202)
    }
    writing = false
    expect(await reads).toEqual([])
  })

  it("a refused update (bad body, over quota) holds up nothing: the next steps still apply", async () => {
    const t = await app.tenant(["ingest", "query"], { quotas: { pointsPerSecond: 5 } })
    const s = (await (await call(app, t.key, "POST", "/api/executions", startBody())).json()) as { traceId: string }
    const path = `/api/executions/${s.traceId}`
    const bad = await call(app, t.key, "PATCH", path, { progressPercentage: 140 })
    expect(bad.status).toBe(400)
    expect(JSON.stringify(await bad.json())).toContain("progressPercentage")
    const tooMany = await call(app, t.key, "PATCH", path, { metrics: Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`m${i}`, i])) })
    expect(tooMany.status).toBe(429)
    expect((await call(app, t.key, "PATCH", path, { progressPercentage: 60, currentOperation: "still going" })).status).toBe(202)
    const midway = await executionWhen(t.key, s.traceId, (e) => e.progressPercentage === 60)
    expect(midway).toMatchObject({ status: "active", currentOperation: "still going", metrics: {} })
    expect((await call(app, t.key, "POST", `${path}/finish`, { success: true })).status).toBe(202)
    await executionWhen(t.key, s.traceId, (e) => e.status === "completed")
  })

  it("a client-chosen traceId continues a trace: the first execution in it goes by the trace id, a second by <traceId>-<spanId>", async () => {
    const t = await app.tenant()
    const traceId = traceIdHex()
    const parentSpanId = randomBytes(8).toString("hex")
    const first = await call(app, t.key, "POST", "/api/executions", startBody({ traceId, parentSpanId }))
    expect(first.status).toBe(201)
    expect(await first.json()).toMatchObject({ traceId, executionId: traceId })
    const second = await call(app, t.key, "POST", "/api/executions", startBody({ traceId }))
    expect(second.status).toBe(201)
    const s2 = (await second.json()) as { traceId: string; spanId: string; executionId: string }
    expect(s2).toMatchObject({ traceId, executionId: `${traceId}-${s2.spanId}` })
    const e = await executionWhen(t.key, traceId, () => true)
    expect(e).toMatchObject({ traceId, status: "active" })
    expect((await call(app, t.key, "POST", `/api/executions/${s2.executionId}/finish`, { success: true })).status).toBe(202)
    await executionWhen(t.key, s2.executionId, (x) => x.status === "completed")
    expect((await executionWhen(t.key, traceId, () => true)).status).toBe("active")
    expect(await app.sql("SELECT 1 FROM executions WHERE tenant_id = $1", [t.id])).toHaveLength(2)
  })

  it("update or finish of an unknown execution is 404 and enqueues nothing", async () => {
    const t = await app.tenant()
    const traceId = traceIdHex()
    expect((await call(app, t.key, "PATCH", `/api/executions/${traceId}`, { progressPercentage: 10 })).status).toBe(404)
    expect((await call(app, t.key, "POST", `/api/executions/${traceId}/finish`, { success: true })).status).toBe(404)
    expect((await getExecution(t.key, traceId)).status).toBe(404)
    expect((await call(app, t.key, "GET", "/api/executions/not-a-trace-id")).status).toBe(400)
    expect((await call(app, t.key, "GET", `/api/executions/${traceId}-${"0".repeat(16)}`)).status).toBe(400)
    expect((await call(app, t.key, "PATCH", `/api/executions/${traceId}-${randomBytes(8).toString("hex")}`, { progressPercentage: 10 })).status).toBe(404)
    const jobs = await withIngestQueue(app, (q) => q.getJobs(["wait", "active", "delayed", "completed", "failed"]))
    expect(jobs.filter((j) => j.id?.startsWith(`${t.id}.`))).toEqual([])
  })
})

describe("Idempotency-Key", () => {
  it("makes a start at-most-once: a retry gets the same answer and creates nothing", async () => {
    const t = await app.tenant()
    const headers = { "idempotency-key": "start-1" }
    const [a, b] = await Promise.all([
      call(app, t.key, "POST", "/api/executions", startBody(), headers),
      call(app, t.key, "POST", "/api/executions", startBody(), headers)
    ])
    const c = await call(app, t.key, "POST", "/api/executions", startBody(), headers)
    expect([a.status, b.status, c.status]).toEqual([201, 201, 201])
    const [ja, jb, jc] = (await Promise.all([a.json(), b.json(), c.json()])) as Array<{ traceId: string }>
    expect(jb).toEqual(ja)
    expect(jc).toEqual(ja)
    await executionWhen(t.key, ja!.traceId, () => true)
    // Another key is another request.
    expect((await call(app, t.key, "POST", "/api/executions", startBody(), { "idempotency-key": "start-2" })).status).toBe(201)
    const rows = await eventually(async () => {
      const r = await app.sql<{ trace_id: string }>("SELECT trace_id FROM executions WHERE tenant_id = $1", [t.id])
      return r.length === 2 ? r : undefined
    })
    expect(rows.map((r) => r.trace_id)).toContain(ja!.traceId)
  })

  it("makes an update at-most-once: the event is stored once", async () => {
    const t = await app.tenant()
    const s = (await (await call(app, t.key, "POST", "/api/executions", startBody())).json()) as { traceId: string }
    const update = { progressPercentage: 10, events: [{ eventName: "step", eventType: "progress", timestamp: Date.now() }] }
    const headers = { "idempotency-key": "u-1" }
    const a = await call(app, t.key, "PATCH", `/api/executions/${s.traceId}`, update, headers)
    const b = await call(app, t.key, "PATCH", `/api/executions/${s.traceId}`, update, headers)
    expect([a.status, b.status]).toEqual([202, 202])
    expect(await b.json()).toEqual(await a.json())
    expect((await call(app, t.key, "POST", `/api/executions/${s.traceId}/finish`, { success: true })).status).toBe(202)
    const done = await executionWhen(t.key, s.traceId, (e) => e.status === "completed")
    expect(done.events).toHaveLength(1)
    const seq = await app.sql<{ last_seq: string }>("SELECT last_seq::text FROM executions WHERE tenant_id = $1", [t.id])
    expect(seq).toEqual([{ last_seq: "3" }])
  })
})
