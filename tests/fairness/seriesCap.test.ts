import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"

let app: TestApp
beforeAll(async () => {
  app = await startApp()
})
afterAll(async () => {
  await app.close()
})

const point = (name: string, value = 1) => ({ name, value, time: Date.now() - 60_000, serviceName: "svc" })

describe("active series per tenant (settings.limits.maxActiveSeries)", () => {
  it("refuses and counts the points of new series over the cap; known series go on", async () => {
    const t = await app.tenant(["ingest", "query"], { limits: { maxActiveSeries: 3 } })
    const first = await call(app, t.key, "POST", "/api/metrics", { points: ["a", "b", "c", "d", "e", "a"].map((n) => point(n)) })
    expect(first.status).toBe(202)
    const body = (await first.json()) as { accepted: number; rejected?: number; message?: string }
    expect(body).toMatchObject({ accepted: 4, rejected: 2 })
    expect(body.message).toMatch(/2 points of 2 new series refused.*3 active series \(settings\.limits\.maxActiveSeries\)/)
    const stored = () => app.sql<{ name: string }>("SELECT DISTINCT name FROM metric_points WHERE tenant_id = $1 ORDER BY name", [t.id])
    await eventually(async () => ((await stored()).length === 3 ? true : undefined))
    expect((await stored()).map((r) => r.name)).toEqual(["a", "b", "c"])

    const known = await call(app, t.key, "POST", "/api/metrics", { points: [point("b", 2)] })
    expect(await known.json()).toEqual({ accepted: 1, jobId: expect.any(String) })

    // Every point of the batch is of a new series: nothing to queue, a 400 that says why.
    const none = await call(app, t.key, "POST", "/api/metrics", { points: [point("f")] })
    expect(none.status).toBe(400)
    expect(((await none.json()) as { message: string }).message).toMatch(/^points: 1 points of 1 new series refused/)

    // OTLP: counted in partialSuccess.
    const otlp = await fetch(`${app.baseUrl}/v1/metrics`, {
      method: "POST",
      headers: { authorization: `Bearer ${t.key}`, "content-type": "application/json" },
      body: JSON.stringify({ resourceMetrics: [{
        resource: { attributes: [{ key: "service.name", value: { stringValue: "svc" } }] },
        scopeMetrics: [{ metrics: ["a", "g"].map((name) => ({ name, gauge: { dataPoints: [{ timeUnixNano: `${(Date.now() - 60_000) * 1e6}`, asDouble: 1 }] } })) }]
      }] })
    })
    expect(otlp.status).toBe(200)
    const partial = ((await otlp.json()) as { partialSuccess?: { rejectedDataPoints?: number; errorMessage?: string } }).partialSuccess
    expect(partial?.rejectedDataPoints).toBe(1)
    expect(partial?.errorMessage).toMatch(/maxActiveSeries/)
    await eventually(async () => ((await app.sql("SELECT 1 FROM metric_points WHERE tenant_id = $1", [t.id])).length === 6 ? true : undefined))
  })

  it("caps another tenant separately", async () => {
    const t = await app.tenant(["ingest"], { limits: { maxActiveSeries: 1 } })
    const u = await app.tenant(["ingest"], { limits: { maxActiveSeries: 1 } })
    expect((await (await call(app, t.key, "POST", "/api/metrics", { points: [point("x")] })).json())).not.toHaveProperty("rejected")
    expect((await (await call(app, u.key, "POST", "/api/metrics", { points: [point("y")] })).json())).not.toHaveProperty("rejected")
    expect((await call(app, u.key, "POST", "/api/metrics", { points: [point("x")] })).status).toBe(400)
  })
})
