import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import type { AddressInfo, Server, Socket } from "node:net"
import { connect, createServer } from "node:net"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"

/** A TCP proxy in front of the real Redis that the test can take down and bring back on the same port. */
class RedisProxy {
  private server: Server | undefined
  private readonly sockets = new Set<Socket>()
  port = 0

  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(6379, "127.0.0.1")
      for (const s of [client, upstream]) {
        this.sockets.add(s)
        s.on("close", () => this.sockets.delete(s))
        s.on("error", () => {
          client.destroy()
          upstream.destroy()
        })
      }
      client.pipe(upstream).pipe(client)
    })
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject)
      server.listen(this.port, "127.0.0.1", () => resolve())
    })
    this.port = (server.address() as AddressInfo).port
    this.server = server
  }

  /** Redis gone: no new connection is accepted and every open one is cut. */
  async down(): Promise<void> {
    const server = this.server
    this.server = undefined
    const closed = new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())))
    for (const s of this.sockets) s.destroy()
    await closed
  }
}

const onePoint = { points: [{ name: "cpuUsagePercent", value: 1 }] }
const startBody = { operationName: "op", serviceName: "svc", context: { contextId: "c", userId: "u" } }

/** The response and how long it took. */
const timed = async (request: () => Promise<Response>) => {
  const started = Date.now()
  const res = await request()
  await res.arrayBuffer()
  return { status: res.status, retryAfter: Number(res.headers.get("retry-after")), ms: Date.now() - started, res }
}

describe("503 when Redis is unreachable", () => {
  const proxy = new RedisProxy()
  let app: TestApp

  beforeAll(async () => {
    await proxy.up()
    app = await startApp({}, { REDIS_URL: `redis://127.0.0.1:${proxy.port}` })
  })
  afterAll(async () => {
    await proxy.up().catch(() => undefined)
    // Disposing the app while its Redis connections are still reconnecting can hang: let them come back first.
    await eventually(async () => ((await fetch(`${app.baseUrl}/readyz`)).status === 200 ? true : undefined), 10_000, 200).catch(() => undefined)
    await app.close()
    await proxy.down()
  })

  it("answers 503 + Retry-After within 2 s instead of hanging, says not ready, keeps serving reads, and recovers", async () => {
    const t = await app.tenant()
    const started = await call(app, t.key, "POST", "/api/executions", startBody)
    expect(started.status).toBe(201)
    const { traceId } = (await started.json()) as { traceId: string }
    await eventually(async () => ((await call(app, t.key, "GET", `/api/executions/${traceId}`)).status === 200 ? true : undefined))
    const submitted = await call(app, t.key, "POST", "/api/jobs", { kind: "metrics", payload: onePoint })
    const { jobId } = (await submitted.json()) as { jobId: string }
    expect((await fetch(`${app.baseUrl}/readyz`)).status).toBe(200)

    await proxy.down()

    const nanos = BigInt(Date.now()) * 1_000_000n
    const spans = { resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: "5b8efff798038103d269b633813fc60c", spanId: "eee19b7ec3c1b174", startTimeUnixNano: `${nanos - 100_000_000n}`, endTimeUnixNano: `${nanos}` }] }] }] }
    const writes = [
      () => call(app, t.key, "POST", "/api/metrics", onePoint),
      () => call(app, t.key, "POST", "/api/executions", startBody),
      () => call(app, t.key, "PATCH", `/api/executions/${traceId}`, { progressPercentage: 10 }),
      () => call(app, t.key, "POST", `/api/executions/${traceId}/finish`, { success: true }),
      () => call(app, t.key, "POST", "/api/jobs", { kind: "metrics", payload: onePoint }),
      () => call(app, t.key, "GET", `/api/jobs/${jobId}`),
      () => fetch(`${app.baseUrl}/v1/traces`, { method: "POST", headers: { authorization: `Bearer ${t.key}`, "content-type": "application/json" }, body: JSON.stringify(spans) })
    ]
    // Long enough for ioredis's reconnect back-off to grow past a second: the answer must stay quick.
    const outageEnds = Date.now() + 4000
    let rounds = 0
    while (Date.now() < outageEnds) {
      const answers = await Promise.all(writes.map(timed))
      for (const [i, w] of answers.entries()) {
        expect({ request: i, status: w.status }).toEqual({ request: i, status: 503 })
        expect(w.retryAfter).toBeGreaterThanOrEqual(1)
        expect(w.ms).toBeLessThan(2000)
      }
      rounds++
      await new Promise((r) => setTimeout(r, 250))
    }
    expect(rounds).toBeGreaterThan(1)

    const ready = await timed(() => fetch(`${app.baseUrl}/readyz`))
    expect(ready.status).toBe(503)
    expect(ready.ms).toBeLessThan(2500)
    // Ready or not, and which dependency: never the dependency's error text (addresses, driver messages).
    expect(await (await fetch(`${app.baseUrl}/readyz`)).json()).toEqual({ status: "not_ready", database: "up", redis: "down" })

    // Reads from the database do not need Redis.
    const read = await timed(() => call(app, t.key, "GET", `/api/executions/${traceId}`))
    expect(read.status).toBe(200)
    expect(read.ms).toBeLessThan(2500)

    await proxy.up()

    const accepted = await eventually(async () => {
      const res = await call(app, t.key, "POST", "/api/metrics", { points: [{ name: "afterOutage", value: 7 }] })
      return res.status === 202 ? res : undefined
    }, 10_000, 200)
    expect(accepted.status).toBe(202)
    await eventually(async () => ((await fetch(`${app.baseUrl}/readyz`)).status === 200 ? true : undefined), 10_000, 200)
    // The worker is back too: the batch accepted after the outage is stored.
    await eventually(async () => {
      const rows = await app.sql("SELECT 1 FROM metric_points WHERE tenant_id = $1 AND name = 'afterOutage'", [t.id])
      return rows.length === 1 ? rows : undefined
    })
    // And the execution refused during the outage can go on.
    expect((await call(app, t.key, "PATCH", `/api/executions/${traceId}`, { progressPercentage: 30 })).status).toBe(202)
    expect((await call(app, t.key, "POST", `/api/executions/${traceId}/finish`, { success: true })).status).toBe(202)
    await eventually(async () => {
      const res = await call(app, t.key, "GET", `/api/executions/${traceId}`)
      return res.status === 200 && ((await res.json()) as { status: string }).status === "completed" ? true : undefined
    })
  })
})

describe("503 when the ingest backlog is over MPLP_MAX_BACKLOG", () => {
  let producer: TestApp
  let consumer: TestApp | undefined

  beforeAll(async () => {
    // Nothing consumes: every accepted batch waits in the queue.
    producer = await startApp({ stages: [] }, { MPLP_MAX_BACKLOG: "3" })
  })
  afterAll(async () => {
    await consumer?.close()
    await producer.close()
  })

  it("refuses with 503 + Retry-After past the bound, loses nothing it acknowledged, and accepts again once drained", async () => {
    const t = await producer.tenant()
    const started = await call(producer, t.key, "POST", "/api/executions", startBody)
    expect(started.status).toBe(201)
    const { traceId } = (await started.json()) as { traceId: string }

    const acknowledged: Array<number> = []
    const refused: Array<number> = []
    let n = 0
    const full = await eventually(async () => {
      const i = n++
      const res = await call(producer, t.key, "POST", "/api/metrics", { points: [{ name: "batch", value: i }] })
      if (res.status === 202) acknowledged.push(i)
      else refused.push(i)
      return res.status === 503 ? res : undefined
    }, 10_000, 50)
    expect(full.headers.get("retry-after")).toMatch(/^[1-9]\d*$/)
    expect(((await full.json()) as { message: string }).message).toMatch(/backlog/)
    expect(acknowledged.length).toBeGreaterThanOrEqual(3)
    expect(refused).toHaveLength(1)

    // Steps of an execution refused here must not block the ones sent after the backlog clears.
    const patch = await call(producer, t.key, "PATCH", `/api/executions/${traceId}`, { progressPercentage: 10 })
    expect(patch.status).toBe(503)
    expect(patch.headers.get("retry-after")).toMatch(/^[1-9]\d*$/)
    const finish = await call(producer, t.key, "POST", `/api/executions/${traceId}/finish`, { success: false })
    expect(finish.status).toBe(503)

    // A worker process on the same Redis drains the queue (into its own database, which knows the tenant too).
    consumer = await startApp({ stages: ["ingest"] }, { MPLP_QUEUE_PREFIX: producer.prefix })
    const c = consumer
    expect((await c.admin("POST", "/api/admin/tenants", { id: t.id, name: t.id })).status).toBe(201)
    const stored = await eventually(async () => {
      const rows = await c.sql<{ value: number }>("SELECT value FROM metric_points WHERE tenant_id = $1 AND name = 'batch' ORDER BY value", [t.id])
      return rows.length >= acknowledged.length ? rows : undefined
    })
    expect(stored.map((r) => r.value)).toEqual(acknowledged)

    const again = await eventually(async () => {
      const res = await call(producer, t.key, "PATCH", `/api/executions/${traceId}`, { progressPercentage: 60 })
      return res.status === 202 ? res : undefined
    }, 10_000, 200)
    expect(again.status).toBe(202)
    expect((await call(producer, t.key, "POST", `/api/executions/${traceId}/finish`, { success: true })).status).toBe(202)
    const done = await eventually(async () => {
      const rows = await c.sql<{ status: string; progress_percentage: number }>(
        "SELECT status, progress_percentage FROM executions WHERE tenant_id = $1 AND trace_id = $2", [t.id, traceId]
      )
      return rows[0]?.status === "completed" ? rows[0] : undefined
    })
    expect(done.progress_percentage).toBe(100)
  })
})
