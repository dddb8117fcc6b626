import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"
import { drained } from "./queue.ts"

let app: TestApp
beforeAll(async () => {
  app = await startApp()
})
afterAll(async () => {
  await app.close()
})

describe("POST /api/metrics", () => {
  it("accepts a batch and persists every point once", async () => {
    const t = await app.tenant()
    const now = Date.now()
    const points = Array.from({ length: 500 }, (_, i) => ({ name: "responseTimeMs", value: i, time: now - i * 10, serviceName: "checkout" }))
    const res = await call(app, t.key, "POST", "/api/metrics", { points })
    expect(res.status).toBe(202)
    const body = (await res.json()) as { accepted: number; jobId: string }
    expect(body.accepted).toBe(500)
    const rows = await eventually(async () => {
      const r = await app.sql<{ n: number; s: number }>(
        "SELECT count(*)::int AS n, sum(value)::float8 AS s FROM metric_points WHERE tenant_id = $1", [t.id]
      )
      return r[0]?.n === 500 ? r[0] : undefined
    })
    expect(rows.s).toBe((499 * 500) / 2)
  })

  it("names the bad field in a 400", async () => {
    const t = await app.tenant()
    const res = await call(app, t.key, "POST", "/api/metrics", { points: [{ name: "cpu", value: "high" }] })
    expect(res.status).toBe(400)
    const body = (await res.json()) as { message: string; issues: Array<{ path: string }> }
    expect(body.issues.map((i) => i.path)).toContain("points.0.value")
  })
})

describe("Idempotency-Key on POST /api/metrics", () => {
  it("makes the POST at-most-once: a retry, even a concurrent one, gets the same answer and stores nothing more", async () => {
    const t = await app.tenant()
    const batch = { points: Array.from({ length: 10 }, (_, i) => ({ name: "orders", value: i })) }
    const headers = { "idempotency-key": "order-batch-1" }
    const answers = await Promise.all([1, 2, 3].map(() => call(app, t.key, "POST", "/api/metrics", batch, headers)))
    const retry = await call(app, t.key, "POST", "/api/metrics", batch, headers)
    expect([...answers, retry].map((r) => r.status)).toEqual([202, 202, 202, 202])
    const bodies = (await Promise.all([...answers, retry].map((r) => r.json()))) as Array<{ accepted: number; jobId: string }>
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1)
    expect(bodies[0]!.accepted).toBe(10)
    // The same key in another tenant is another request.
    const other = await app.tenant()
    expect((await call(app, other.key, "POST", "/api/metrics", batch, headers)).status).toBe(202)
    await drained(app)
    const rows = await app.sql<{ n: number }>("SELECT count(*)::int AS n FROM metric_points WHERE tenant_id = $1", [t.id])
    expect(rows[0]?.n).toBe(10)
    const others = await app.sql<{ n: number }>("SELECT count(*)::int AS n FROM metric_points WHERE tenant_id = $1", [other.id])
    expect(others[0]?.n).toBe(10)
  })
})
