import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"
import { startSink } from "../support/sink.ts"
import type { Sink } from "../support/sink.ts"

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
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

/** Fast windows so a test sees a full incident in seconds. */
const settings = (url: string) => ({
  windows: { sizeSeconds: 1, allowedLatenessSeconds: 1, idleTimeoutSeconds: 1 },
  detector: { warmupWindows: 5 },
  alerting: { cooldownSeconds: 60, resolveAfterWindows: 2 },
  channels: [{ id: "sink", type: "webhook", url, secret: SECRET }]
})

const forTenant = (tenantId: string, type: string) =>
  sink.received.filter((r) => r.body.data.tenantId === tenantId && r.body.type === type)

/** Waits until the tenant's windows up to `n` are evaluated, so windows reach detection in order. */
const evaluated = (tenantId: string, n: number) =>
  eventually(async () => {
    const r = await app.sql<{ n: number }>("SELECT count(*)::int AS n FROM metric_windows WHERE tenant_id = $1 AND evaluated_at IS NOT NULL", [tenantId])
    return (r[0]?.n ?? 0) >= n ? true : undefined
  })

describe("pipeline: points → windows → detection → signed webhook", () => {
  it("a spike in a steady metric raises a signed anomaly_detected alert with observed and expected values, then resolves", async () => {
    const t = await app.tenant(["ingest", "query"], settings(sink.url))
    const base = Math.floor(Date.now() / 1000) * 1000 - 120_000
    const windowPoints = (i: number, level: number) =>
      Array.from({ length: 10 }, (_, j) => ({ name: "queueDepth", value: level + (j % 2 === 0 ? 1 : -1), time: base + i * 1000 + j * 90, serviceName: "billing" }))
    const send = async (i: number, level: number) => {
      const res = await call(app, t.key, "POST", "/api/metrics", { points: windowPoints(i, level) })
      expect(res.status).toBe(202)
      await evaluated(t.id, i + 1)
    }
    for (let i = 0; i < 8; i++) await send(i, 100)
    await send(8, 300)
    const alert = await eventually(async () => forTenant(t.id, "anomaly_detected")[0])
    expect(alert.validSignature).toBe(true)
    expect(alert.body.data).toMatchObject({ metric: "queueDepth", service: "billing", severity: "critical", rule: "anomaly", state: "open" })
    expect(alert.body.data.observed).toBe(300)
    expect(alert.body.data.expected).toBeCloseTo(100, 0)
    for (let i = 9; i < 12; i++) await send(i, 100)
    const resolved = await eventually(async () => forTenant(t.id, "alert_resolved")[0])
    expect(resolved.validSignature).toBe(true)
    expect(resolved.body.data.alertId).toBe(alert.body.data.alertId)
    expect(forTenant(t.id, "anomaly_detected")).toHaveLength(1)
    const rows = await app.sql<{ state: string; observed: number }>("SELECT state, observed FROM alerts WHERE tenant_id = $1", [t.id])
    expect(rows.map((r) => r.state)).toEqual(["resolved"])
    const anomaly = await app.sql<{ observed: number; expected: number; z: number; severity: string }>(
      "SELECT observed, expected, z, severity FROM anomalies WHERE tenant_id = $1 AND method = 'ewma_zscore'", [t.id]
    )
    expect(anomaly).toHaveLength(1)
    expect(anomaly[0]?.z).toBeGreaterThan(4.5)
    const deliveries = await app.sql<{ outcome: string }>("SELECT outcome FROM alert_deliveries WHERE tenant_id = $1", [t.id])
    expect(deliveries.map((d) => d.outcome)).toEqual(["delivered", "delivered"])
  })

  it("a CPU threshold breach sent through PATCH /api/executions raises threshold_exceeded and resolves", async () => {
    const t = await app.tenant(["ingest", "query"], settings(sink.url))
    const started = await call(app, t.key, "POST", "/api/executions", { operationName: "plan", serviceName: "agent", context: { contextId: "c", userId: "u" } })
    expect(started.status).toBe(201)
    const { traceId } = (await started.json()) as { traceId: string }
    const patch = async (cpu: number) => expect((await call(app, t.key, "PATCH", `/api/executions/${traceId}`, { metrics: { cpuUsagePercent: cpu } })).status).toBe(202)
    await patch(97)
    const alert = await eventually(async () => forTenant(t.id, "threshold_exceeded")[0])
    expect(alert.validSignature).toBe(true)
    expect(alert.body.data).toMatchObject({ metric: "cpuUsagePercent", service: "agent", severity: "critical", observed: 97, threshold: 95 })
    for (let i = 0; i < 2; i++) {
      await new Promise((r) => setTimeout(r, 1100))
      await patch(20)
    }
    const resolved = await eventually(async () => forTenant(t.id, "alert_resolved")[0])
    expect(resolved.body.data.alertId).toBe(alert.body.data.alertId)
  })

  it("a latency spike carried only by OTLP spans raises anomaly_detected on the operation's response time", async () => {
    const t = await app.tenant(["ingest", "query"], settings(sink.url))
    const base = Math.floor(Date.now() / 1000) * 1000 - 120_000
    const hex = (n: number, len: number) => n.toString(16).padStart(len, "0")
    const spans = (i: number, durationMs: number) =>
      Array.from({ length: 5 }, (_, j) => {
        const start = (base + i * 1000 + j * 150) * 1e6
        return {
          traceId: hex(i * 100 + j + 1, 32), spanId: hex(i * 100 + j + 1, 16), name: "GET /search", kind: 2,
          startTimeUnixNano: String(start), endTimeUnixNano: String(start + durationMs * 1e6), status: { code: 1 }
        }
      })
    const send = async (i: number, durationMs: number) => {
      const body = { resourceSpans: [{ resource: { attributes: [{ key: "service.name", value: { stringValue: "search" } }] }, scopeSpans: [{ spans: spans(i, durationMs) }] }] }
      const res = await call(app, t.key, "POST", "/v1/traces", body)
      expect(res.status).toBe(200)
      await evaluated(t.id, 2 * (i + 1)) // responseTimeMs and errorRate per window
    }
    for (let i = 0; i < 8; i++) await send(i, 40 + (i % 2))
    await send(8, 900)
    const alert = await eventually(async () => forTenant(t.id, "anomaly_detected").find((a) => a.body.data.metric === "responseTimeMs"))
    expect(alert.validSignature).toBe(true)
    expect(alert.body.data).toMatchObject({ service: "search", operation: "GET /search", observed: 900 })
  })
})
