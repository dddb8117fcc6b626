import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Redis } from "ioredis"
import { redisKeys } from "../../src/queues/keys.ts"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"

let app: TestApp
let redis: Redis
beforeAll(async () => {
  // A closed window's partials stay 1 s (300 s by default).
  app = await startApp({}, { MPLP_WINDOW_RETAIN_SECONDS: "1" })
  redis = new Redis("redis://127.0.0.1:6379")
})
afterAll(async () => {
  await redis.quit()
  await app.close()
})

const windowKeys = (tenantId: string) => redis.keys(`${redisKeys(app.prefix).tenant(tenantId, "wp")}:*`)

describe("window state in Redis", () => {
  it("frees a closed window's state after the retention, and still corrects the stored row with a later point", async () => {
    const t = await app.tenant(["ingest", "query"], { windows: { sizeSeconds: 1, allowedLatenessSeconds: 0, idleTimeoutSeconds: 86_400 }, channels: [] })
    const base = Math.floor(Date.now() / 1000) * 1000 - 600_000
    const send = async (points: ReadonlyArray<{ t: number; v: number }>) => {
      const res = await call(app, t.key, "POST", "/api/metrics", { points: points.map((p) => ({ name: "depth", value: p.v, time: base + p.t, serviceName: "q" })) })
      expect(res.status).toBe(202)
    }
    const windowAt = (offsetMs: number) =>
      app.sql<{ count: number; sum: number; mean: number; variance: number; late_count: number }>(
        `SELECT count::int, sum, mean, variance, late_count FROM metric_windows WHERE tenant_id = $1 AND window_start = to_timestamp($2 / 1000.0)`,
        [t.id, base + offsetMs]
      ).then((r) => r[0])

    await send([1, 2, 3, 4, 5].map((v, i) => ({ t: 100 * i, v })))
    await eventually(async () => ((await windowKeys(t.id)).length === 1 ? true : undefined))
    await send([{ t: 3_000, v: 1 }]) // the watermark passes window 0: it closes
    expect(await eventually(() => windowAt(0))).toMatchObject({ count: 5, sum: 15 })
    // The closed window's hash is gone a second later; the open one (3 s) stays.
    await eventually(async () => {
      const keys = await windowKeys(t.id)
      return keys.length === 1 && keys[0]?.endsWith(`:${base + 3_000}`) ? true : undefined
    }, 10_000)

    await send([{ t: 500, v: 10 }]) // late, after the state was freed: merged into the stored row
    const merged = await eventually(async () => {
      const w = await windowAt(0)
      return w?.count === 6 ? w : undefined
    })
    const values = [1, 2, 3, 4, 5, 10]
    const mean = 25 / 6
    expect(merged).toMatchObject({ count: 6, sum: 25, late_count: 1 })
    expect(merged.mean).toBeCloseTo(mean, 9)
    expect(merged.variance).toBeCloseTo(values.reduce((s, v) => s + (v - mean) ** 2, 0) / 6, 9)
  })

  it("drops the window state of a tenant the database does not know, instead of failing its close pass forever", async () => {
    const k = redisKeys(app.prefix)
    const ghost = "ghost-tenant"
    const hash = k.tenant(ghost, "wp", "depth|q|", 1_000)
    await redis.hset(hash, "__meta", JSON.stringify({ metricName: "depth", serviceName: "q", operation: "", sizeMs: 1000 }), "job-1", "{}")
    await redis.zadd(k.tenant(ghost, "open"), 2_000, "1000|depth|q|")
    await redis.set(k.tenant(ghost, "wm"), "2000")
    await redis.sadd(k.global("open-tenants"), ghost)
    await eventually(async () => ((await redis.sismember(k.global("open-tenants"), ghost)) === 0 ? true : undefined), 10_000)
    expect(await redis.exists(hash, k.tenant(ghost, "open"), k.tenant(ghost, "wm"))).toBe(0)
  })
})
