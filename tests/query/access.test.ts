import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import { acknowledge, step, withAlertId, initialAlertState } from "../../src/alerting/policy.ts"
import type { AlertState } from "../../src/alerting/policy.ts"
import { call, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"

let app: TestApp
beforeAll(async () => {
  app = await startApp()
})
afterAll(async () => {
  await app.close()
})

const hex = (bytes: number) => randomBytes(bytes).toString("hex")
// Rows seeded below are stamped seconds ago: later than any materialised bucket, so the aggregates show them at once.

/** An open alert with its policy state, as the alert stage writes them. */
const seedAlert = async (tenantId: string, id: string, seriesKey: string, state: "open" | "resolved" = "open") => {
  const opened = withAlertId(step({ cooldownMs: 300_000, resolveAfterWindows: 3, renotify: true }, initialAlertState, { seriesKey, rule: "threshold", severity: "critical", windowStartMs: 1000, value: 97 }, Date.now()).state, id)
  await app.sql(
    `INSERT INTO alerts (id, tenant_id, series_key, rule, type, state, severity, metric_name, service_name, title, observed, resolved_at)
     VALUES ($1, $2, $3, 'threshold', 'threshold_exceeded', $4, 'critical', 'cpuUsagePercent', 'agent', 'cpu over threshold', 97,
             CASE WHEN $4 = 'resolved' THEN now() END)`,
    [id, tenantId, seriesKey, state]
  )
  if (state === "open") {
    await app.sql("INSERT INTO alert_policy_state (tenant_id, series_key, rule, state) VALUES ($1, $2, 'threshold', $3::jsonb)", [tenantId, seriesKey, JSON.stringify(opened)])
  }
  return opened
}

describe("tenant isolation and scopes", () => {
  let owner: { id: string; key: string }
  let traceId: string
  let alertId: string

  beforeAll(async () => {
    owner = await app.tenant()
    traceId = hex(16)
    alertId = `al_${hex(12)}`
    await app.sql(
      `INSERT INTO executions (tenant_id, trace_id, execution_id, span_id, operation_name, service_name, status, start_time, end_time, duration_ms)
       VALUES ($1, $2, $2, $3, 'plan', 'agent', 'completed', now() - interval '5 minutes', now() - interval '4 minutes', 60000)`,
      [owner.id, traceId, hex(8)]
    )
    await app.sql(
      `INSERT INTO metric_points (tenant_id, time, name, value, service_name, dedup_key) VALUES ($1, now() - interval '5 seconds', 'cpuUsagePercent', 97, 'agent', 1)`,
      [owner.id]
    )
    await app.sql(
      `INSERT INTO spans (tenant_id, trace_id, span_id, name, service_name, start_time, end_time, duration_ms)
       VALUES ($1, $2, '00000000000000c1', 'plan', 'agent', now() - interval '20 seconds', now() - interval '10 seconds', 10000)`,
      [owner.id, traceId]
    )
    await app.sql(
      `INSERT INTO anomalies (tenant_id, series_key, metric_name, service_name, method, window_start, window_end, observed, severity)
       VALUES ($1, 'agent|cpu', 'cpuUsagePercent', 'agent', 'threshold', now() - interval '2 minutes', now() - interval '1 minute', 97, 'critical')`,
      [owner.id]
    )
    await seedAlert(owner.id, alertId, "agent|cpuUsagePercent")
  })

  const reads = () => [
    ["GET", `/api/executions/${traceId}`],
    ["GET", "/api/executions?limit=10"],
    ["GET", "/api/metrics/series?name=cpuUsagePercent&from=now-1h&bucket=1m"],
    ["GET", "/api/services?from=now-1h"],
    ["GET", "/api/anomalies"],
    ["GET", "/api/alerts"],
    ["POST", `/api/alerts/${alertId}/ack`]
  ] as const

  it("the owner sees its data", async () => {
    const bodies = await Promise.all(reads().slice(0, 6).map(async ([m, p]) => {
      const res = await call(app, owner.key, m, p)
      expect(res.status, p).toBe(200)
      return JSON.stringify(await res.json())
    }))
    expect(bodies[0]).toContain(traceId)
    expect(bodies[1]).toContain(traceId)
    expect(bodies[2]).toContain('"value":97')
    expect(bodies[3]).toContain('"service":"agent"')
    expect(bodies[4]).toContain("agent|cpu")
    expect(bodies[5]).toContain(alertId)
  })

  it("documents every query endpoint in the OpenAPI document", async () => {
    const doc = (await (await fetch(`${app.baseUrl}/openapi.json`)).json()) as { paths: Record<string, { get?: { parameters: Array<{ name: string; in: string; required: boolean }> } }> }
    for (const path of ["/api/metrics/series", "/api/services", "/api/executions", "/api/executions/{executionId}", "/api/anomalies", "/api/alerts", "/api/alerts/{id}/ack"]) {
      expect(Object.keys(doc.paths)).toContain(path)
    }
    const query = (path: string) => doc.paths[path]?.get?.parameters.filter((p) => p.in === "query").map((p) => `${p.name}${p.required ? "!" : ""}`)
    expect(query("/api/metrics/series")).toEqual(["name!", "bucket", "agg", "groupBy", "service", "source", "from", "to"])
    expect(query("/api/jobs")).toEqual(["state!", "limit"])
  })

  it("a key without the query scope gets 403 everywhere", async () => {
    const ingestOnly = await app.tenant(["ingest"])
    for (const [m, p] of reads()) expect((await call(app, ingestOnly.key, m, p)).status, p).toBe(403)
  })

  it("another tenant gets 404 for the owner's ids and sees none of its data", async () => {
    const other = await app.tenant(["query", "alerts"])
    expect((await call(app, other.key, "GET", `/api/executions/${traceId}`)).status).toBe(404)
    expect((await call(app, other.key, "POST", `/api/alerts/${alertId}/ack`)).status).toBe(404)
    const empty = async (path: string, field: string) => {
      const res = await call(app, other.key, "GET", path)
      expect(res.status).toBe(200)
      return ((await res.json()) as Record<string, Array<unknown>>)[field]
    }
    expect(await empty("/api/executions", "executions")).toEqual([])
    expect(await empty("/api/metrics/series?name=cpuUsagePercent&from=now-1h&bucket=1m", "series")).toEqual([])
    expect(await empty("/api/services?from=now-1h", "services")).toEqual([])
    expect(await empty("/api/anomalies", "anomalies")).toEqual([])
    expect(await empty("/api/alerts", "alerts")).toEqual([])
    const rows = await app.sql<{ state: string }>("SELECT state FROM alerts WHERE id = $1", [alertId])
    expect(rows[0]?.state).toBe("open")
  })
})

describe("alerts", () => {
  it("acknowledges the alert row and its policy state together, idempotently; a resolved alert is 409", async () => {
    const t = await app.tenant()
    const id = `al_${hex(12)}`
    const opened = await seedAlert(t.id, id, "agent|cpuUsagePercent")
    const resolvedId = `al_${hex(12)}`
    await seedAlert(t.id, resolvedId, "agent|memoryUsageMb", "resolved")

    const list = async (q: string) => ((await (await call(app, t.key, "GET", `/api/alerts${q}`)).json()) as { alerts: Array<{ id: string; state: string }> }).alerts
    expect((await list("?state=open")).map((a) => a.id)).toEqual([id])
    expect((await list("")).map((a) => a.id).sort()).toEqual([id, resolvedId].sort())

    const res = await call(app, t.key, "POST", `/api/alerts/${id}/ack`)
    expect(res.status).toBe(200)
    const acked = (await res.json()) as { id: string; state: string; acknowledgedAt: string | null }
    expect(acked).toMatchObject({ id, state: "acknowledged" })
    expect(acked.acknowledgedAt).not.toBeNull()
    const policy = await app.sql<{ state: AlertState }>("SELECT state FROM alert_policy_state WHERE tenant_id = $1 AND series_key = 'agent|cpuUsagePercent'", [t.id])
    expect(policy[0]?.state).toEqual(JSON.parse(JSON.stringify(acknowledge(opened))))
    expect(policy[0]?.state.status).toBe("acknowledged")

    const again = await call(app, t.key, "POST", `/api/alerts/${id}/ack`)
    expect(again.status).toBe(200)
    expect(((await again.json()) as { acknowledgedAt: string }).acknowledgedAt).toBe(acked.acknowledgedAt)
    expect((await list("?state=acknowledged")).map((a) => a.id)).toEqual([id])
    expect(await list("?state=open")).toEqual([])

    expect((await call(app, t.key, "POST", `/api/alerts/${resolvedId}/ack`)).status).toBe(409)
    expect((await call(app, t.key, "POST", `/api/alerts/al_missing/ack`)).status).toBe(404)
    expect((await call(app, t.key, "GET", "/api/alerts?state=closed")).status).toBe(400)
  })

  it("lists anomalies by range, severity and metric", async () => {
    const t = await app.tenant()
    await app.sql(
      `INSERT INTO anomalies (tenant_id, series_key, metric_name, service_name, method, window_start, window_end, observed, severity)
       VALUES ($1, 'a', 'cpu', 'x', 'threshold', now() - interval '10 minutes', now() - interval '9 minutes', 1, 'warning'),
              ($1, 'b', 'mem', 'x', 'ewma_zscore', now() - interval '5 minutes', now() - interval '4 minutes', 2, 'critical'),
              ($1, 'c', 'cpu', 'x', 'threshold', now() - interval '3 days', now() - interval '3 days' + interval '1 minute', 3, 'critical')`,
      [t.id]
    )
    const get = async (q: string) =>
      ((await (await call(app, t.key, "GET", `/api/anomalies${q}`)).json()) as { anomalies: Array<{ seriesKey: string }> }).anomalies.map((a) => a.seriesKey)
    expect(await get("")).toEqual(["b", "a"])
    expect(await get("?severity=critical")).toEqual(["b"])
    expect(await get("?metric=cpu&from=now-7d")).toEqual(["a", "c"])
    expect(await get("?from=now-7d&to=now-1d")).toEqual(["c"])
    expect((await call(app, t.key, "GET", "/api/anomalies?severity=fatal")).status).toBe(400)
  })
})
