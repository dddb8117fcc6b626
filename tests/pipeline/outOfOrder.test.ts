import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Redis } from "ioredis"
import { openIngest } from "../api/queue.ts"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"
import { startSink } from "../support/sink.ts"
import type { Sink } from "../support/sink.ts"
import { ConfigProvider, Effect, Layer } from "effect"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { WindowStore } from "../../src/aggregation/WindowStore.ts"
import { redisKeys } from "../../src/queues/keys.ts"

// Two batches sent back to back — a breach, then a batch that moves the watermark past the breach's
// window — whose aggregate jobs run in the other order: the stages run a tenant's jobs side by side, so
// this happens on a busy machine. Here the order is forced: the tenant's aggregate partition is paused
// while both batches are ingested, their two aggregate jobs are queued again in reverse, and the app's
// stages take one job at a time (concurrency 1), so the later batch's job is done before the breach's
// starts.

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
let app: TestApp
let sink: Sink
let redis: Redis

beforeAll(async () => {
  app = await startApp({ concurrency: 1 })
  sink = await startSink(SECRET)
  redis = new Redis("redis://127.0.0.1:6379", { maxRetriesPerRequest: null })
})
afterAll(async () => {
  await app.close()
  await sink.close()
  await redis.quit()
})

const holdsOf = (tenantId: string) => redis.zrange(redisKeys(app.env.MPLP_QUEUE_PREFIX ?? "").tenant(tenantId, "hold-ev"), 0, -1)

describe("a batch aggregated after a later batch of its tenant", () => {
  it("still has its window: the breach sent first raises its threshold alert when the next batch's aggregate job ran first", async () => {
    const t = await app.tenant(["ingest", "query"], {
      // Only the watermark closes windows here (no idle closing): size 1 s, lateness 1 s.
      windows: { sizeSeconds: 1, allowedLatenessSeconds: 1, idleTimeoutSeconds: 86_400 },
      thresholds: { probe: { warning: 10 } },
      channels: [{ id: "sink", type: "webhook", url: sink.url, secret: SECRET }]
    })
    const base = Math.floor(Date.now() / 1000) * 1000 - 60_000
    const aggregate = openIngest(redis, app.env, "aggregate")
    const queue = aggregate.of(t.id)
    try {
      await queue.pause()
      const send = async (value: number, time: number) => {
        const res = await call(app, t.key, "POST", "/api/metrics", { points: [{ name: "probe", value, time, serviceName: "svc" }] })
        expect(res.status).toBe(202)
        return ((await res.json()) as { jobId: string }).jobId
      }
      const breach = await send(20, base + 100)
      const later = await send(1, base + 5_000) // its watermark − lateness passes the breach's window end by 3 s
      expect(await holdsOf(t.id)).toEqual(expect.arrayContaining([breach, later]))
      // Both ingested: their aggregate jobs (id = the batch's job id) wait in the paused partition.
      const jobs = await eventually(async () => {
        const [b, l] = await Promise.all([aggregate.getJob(breach), aggregate.getJob(later)])
        return b !== undefined && b !== null && l !== undefined && l !== null ? [b, l] as const : undefined
      })
      for (const j of jobs) await j.remove()
      for (const j of [jobs[1], jobs[0]]) await queue.add(j.name, j.data, { jobId: j.id ?? "" })
      await queue.resume()

      const alert = await eventually(async () => sink.received.find((r) => r.body.data.tenantId === t.id && r.body.type === "threshold_exceeded"))
      expect(alert.body.data).toMatchObject({ metric: "probe", service: "svc", severity: "warning", observed: 20 })
      // The order was the reverse of the sending order.
      const [b, l] = await Promise.all([aggregate.getJob(breach), aggregate.getJob(later)])
      expect(l?.finishedOn).toBeLessThanOrEqual(b?.processedOn ?? 0)
      const rows = await app.sql<{ count: number; late_count: number; evaluated: boolean }>(
        `SELECT count::int, late_count, evaluated_at IS NOT NULL AS evaluated FROM metric_windows WHERE tenant_id = $1 AND window_start = to_timestamp($2 / 1000.0)`,
        [t.id, base]
      )
      expect(rows).toEqual([{ count: 1, late_count: 0, evaluated: true }])
      // Both holds released by their aggregate jobs.
      expect(await holdsOf(t.id)).toEqual([])
    } finally {
      await queue.resume()
      await aggregate.close()
    }
  })

  it("a batch that hands no points to the aggregate stage (its series all over the cap) releases its hold when stored", async () => {
    const t = await app.tenant(["ingest"], { limits: { maxActiveSeries: 1 } })
    expect((await call(app, t.key, "POST", "/api/metrics", { points: [{ name: "x", value: 1 }] })).status).toBe(202)
    const start = (Date.now() - 1000) * 1e6
    const body = {
      resourceSpans: [{
        resource: { attributes: [{ key: "service.name", value: { stringValue: "api" } }] },
        scopeSpans: [{ spans: [{ traceId: "ab".repeat(16), spanId: "cd".repeat(8), name: "GET /", kind: 2, startTimeUnixNano: String(start), endTimeUnixNano: String(start + 5e6), status: { code: 1 } }] }]
      }]
    }
    expect((await call(app, t.key, "POST", "/v1/traces", body)).status).toBe(200)
    await eventually(async () => ((await app.sql("SELECT 1 FROM spans WHERE tenant_id = $1", [t.id])).length === 1 ? true : undefined))
    await eventually(async () => ((await holdsOf(t.id)).length === 0 ? true : undefined))
  })

  it("on Redis: a hold is no older than the tenant's closed-through, and stops holding MPLP_WINDOW_HOLD_SECONDS (60) after its accept", async () => {
    const t = await app.tenant(["ingest"])
    const now = Date.now()
    const inputs = await app.runtime.runPromise(Effect.gen(function* () {
      const w = yield* WindowStore
      yield* w.closeThrough(t.id, now - 5_000, now - 10_000) // a close pass: closed through now − 10 s by the watermark
      yield* w.hold(t.id, `${t.id}.old`, now - 600_000, now) // events older than that: held from closed-through
      yield* w.hold(t.id, `${t.id}.new`, now - 2_000, now + 1_000)
      return [yield* w.closeInputs(t.id, now + 59_999), yield* w.closeInputs(t.id, now + 60_000), yield* w.closeInputs(t.id, now + 61_000)]
    }).pipe(Effect.provide(WindowStore.Live.pipe(Layer.provide(AppConfig.layer.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(app.env)))))))))))
    expect(inputs.map((i) => i.heldFromMs)).toEqual([now - 10_000, now - 2_000, Number.POSITIVE_INFINITY])
    expect(await holdsOf(t.id)).toEqual([])
  })
})
