import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Queue } from "bullmq"
import { Redis } from "ioredis"
import { STAGES } from "../../src/queues/Queues.ts"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"
import { openIngest } from "../api/queue.ts"
import { startSink } from "../support/sink.ts"
import type { Sink } from "../support/sink.ts"

const SECRET = "redelivery-secret-24-bytes+"
let app: TestApp
let sink: Sink
beforeAll(async () => {
  app = await startApp()
  sink = await startSink(SECRET)
})
afterAll(async () => {
  await app.close()
  await sink.close()
})

const snapshot = async (tenantId: string) => ({
  points: await app.sql("SELECT count(*)::int AS n, sum(value) AS s FROM metric_points WHERE tenant_id = $1", [tenantId]),
  windows: await app.sql(
    "SELECT series_key, window_start, count::int, sum, min, max, revision, late_count FROM metric_windows WHERE tenant_id = $1 ORDER BY 1, 2", [tenantId]
  ),
  detector: await app.sql("SELECT series_key, state, last_window_start FROM detector_state WHERE tenant_id = $1 ORDER BY 1", [tenantId]),
  anomalies: await app.sql("SELECT series_key, method, window_start, severity, observed FROM anomalies WHERE tenant_id = $1 ORDER BY 1, 2, 3", [tenantId]),
  alerts: await app.sql("SELECT id, state, severity, occurrences FROM alerts WHERE tenant_id = $1 ORDER BY id", [tenantId]),
  notifications: await app.sql("SELECT message_id, event_type FROM alert_notifications WHERE tenant_id = $1 ORDER BY 1", [tenantId])
})

describe("redelivery", () => {
  it("replaying every job of every stage leaves points, windows, detector state and alerts identical", async () => {
    const t = await app.tenant(["ingest", "query"], {
      windows: { sizeSeconds: 1, allowedLatenessSeconds: 1, idleTimeoutSeconds: 1 },
      detector: { warmupWindows: 5 },
      alerting: { cooldownSeconds: 60, resolveAfterWindows: 2 },
      channels: [{ id: "sink", type: "webhook", url: sink.url, secret: SECRET }]
    })
    const base = Math.floor(Date.now() / 1000) * 1000 - 300_000
    const levels = [50, 50, 50, 50, 50, 50, 50, 200, 50, 50, 50]
    for (const [i, level] of levels.entries()) {
      const points = Array.from({ length: 6 }, (_, j) => ({ name: "inflight", value: level + (j % 3), time: base + i * 1000 + j * 100 }))
      expect((await call(app, t.key, "POST", "/api/metrics", { points })).status).toBe(202)
      await eventually(async () => {
        const r = await app.sql<{ n: number }>("SELECT count(*)::int AS n FROM metric_windows WHERE tenant_id = $1 AND evaluated_at IS NOT NULL", [t.id])
        return (r[0]?.n ?? 0) > i ? true : undefined
      })
    }
    await eventually(async () => (sink.received.some((r) => r.body.type === "alert_resolved" && r.body.data.tenantId === t.id) ? true : undefined))
    const before = await snapshot(t.id)
    expect(before.alerts).toHaveLength(1)
    const sent = sink.received.length

    const connection = new Redis("redis://127.0.0.1:6379", { maxRetriesPerRequest: null })
    const queues = [
      ...STAGES.filter((s) => s !== "ingest" && s !== "aggregate").map((s) => new Queue(s, { connection, prefix: `{${app.prefix}}` })),
      ...openIngest(connection, app.env).queues,
      ...openIngest(connection, app.env, "aggregate").queues
    ]
    let replayed = 0
    for (const q of queues) {
      for (const job of await q.getCompleted(0, 10_000)) {
        if (job.name === "deliver" || job.id === undefined) continue // deliveries are at-least-once by design (receivers dedupe on webhook-id)
        if (!job.id.startsWith(t.id) && (job.data as { tenantId?: string }).tenantId !== t.id) continue
        const { name, data, id } = job
        await job.remove()
        await q.add(name, data, { jobId: id })
        replayed++
      }
    }
    expect(replayed).toBeGreaterThan(20)
    await eventually(async () => {
      const counts = await Promise.all(queues.map((q) => q.getJobCounts("active", "wait", "delayed", "prioritized")))
      return counts.every((c) => Object.values(c).every((n) => n === 0)) ? true : undefined
    }, 30_000)
    await new Promise((r) => setTimeout(r, 1500)) // let the sweepers run once more
    expect(await snapshot(t.id)).toEqual(before)
    expect(sink.received.length).toBe(sent)
    await Promise.all(queues.map((q) => q.close()))
    await connection.quit()
  })
})
