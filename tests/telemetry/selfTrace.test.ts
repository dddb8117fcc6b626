import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"

// MPLP_SELF_TENANT: the service's own spans go into one of its tenants, and one request can be followed
// through the stage jobs it caused, read back through the service's own query API.

const selfId = `self${randomUUID().replace(/-/g, "").slice(0, 12)}`
let app: TestApp
let selfKey: string

beforeAll(async () => {
  app = await startApp({}, { MPLP_SELF_TENANT: selfId })
  expect((await app.admin("POST", "/api/admin/tenants", { id: selfId, name: "the service itself" })).status).toBe(201)
  const k = await app.admin("POST", `/api/admin/tenants/${selfId}/keys`, { scopes: ["query"] })
  expect(k.status).toBe(201)
  selfKey = ((await k.json()) as { key: string }).key
})
afterAll(async () => {
  await app.close()
})

interface SpanNode { spanId: string; parentSpanId: string | null; name: string; attributes: Record<string, unknown> }
interface Detail { traceId: string; spans: Array<SpanNode> }

const ancestors = (spans: ReadonlyArray<SpanNode>, span: SpanNode): Array<string> => {
  const byId = new Map(spans.map((s) => [s.spanId, s]))
  const names: Array<string> = []
  for (let p = span.parentSpanId; p !== null; p = byId.get(p)?.parentSpanId ?? null) {
    const parent = byId.get(p)
    if (parent === undefined) break
    names.push(parent.name)
  }
  return names
}

describe("the service's own traces (MPLP_SELF_TENANT)", () => {
  it("one POST /api/metrics of another tenant is one trace: the API span, the ingest and aggregate jobs, their SQL", async () => {
    const other = await app.tenant()
    const now = Date.now()
    const res = await call(app, other.key, "POST", "/api/metrics", { points: [{ name: "cpu", value: 42, time: now, serviceName: "checkout" }] })
    expect(res.status).toBe(202)

    // The request's root span made an execution of the self tenant named after its route.
    const executionId = await eventually(async () => {
      const page = (await (await call(app, selfKey, "GET", `/api/executions?operation=${encodeURIComponent("POST /api/metrics")}`)).json()) as {
        executions: Array<{ executionId: string }>
      }
      return page.executions.length === 1 ? page.executions[0]?.executionId : undefined
    }, 30_000, 250)

    const detail = await eventually(async () => {
      const r = await call(app, selfKey, "GET", `/api/executions/${executionId}`)
      if (r.status !== 200) return undefined
      const d = (await r.json()) as Detail
      const names = new Set(d.spans.map((s) => s.name))
      return names.has("Worker.ingest") && names.has("Worker.aggregate") ? d : undefined
    }, 30_000, 250)

    const named = (name: string) => detail.spans.filter((s) => s.name === name)
    const [root] = named("POST /api/metrics")
    expect(root?.parentSpanId).toBeNull()
    expect(root?.attributes["http.response.status_code"]).toBe(202)
    // Every span of the trace hangs under the request.
    for (const s of detail.spans) if (s !== root) expect(ancestors(detail.spans, s)).toContain("POST /api/metrics")

    const [ingest] = named("Worker.ingest")
    expect(ingest?.attributes).toMatchObject({ "messaging.system": "bullmq", "messaging.destination.name": "ingest", tenantId: other.id })
    expect(ancestors(detail.spans, ingest as SpanNode)).toContain("IngestQueue.submit")
    const [aggregate] = named("Worker.aggregate")
    expect(ancestors(detail.spans, aggregate as SpanNode)).toContain("Worker.ingest")

    // The ingest job's statements are its children, with the statement text (the points by COPY).
    const inserts = [...named("Db.query"), ...named("Db.copy")].filter((s) => ancestors(detail.spans, s).includes("Worker.ingest"))
    expect(inserts.some((s) => s.attributes["db.system"] === "postgresql" && String(s.attributes["db.statement"]).includes("metric_points"))).toBe(true)
  }, 60_000)

  it("the request whose points close a window carries the trace on through detect and alert", async () => {
    // One-second windows closed by the watermark (a long idle timeout keeps the wall-clock sweep out of it).
    const other = await app.tenant(["ingest", "query"], {
      windows: { sizeSeconds: 1, allowedLatenessSeconds: 1, idleTimeoutSeconds: 600 },
      thresholds: { probe: { warning: 10 } }
    })
    const now = Date.now()
    // The breach and, right after it (back to back, as clients send), a batch whose watermark passes the
    // breach's window. The stages run a tenant's jobs side by side, in either order: the breach's batch,
    // accepted first, holds the window open until its partial is in (src/aggregation/holds.ts), and the
    // aggregate job that comes last closes it and hands it to detection.
    expect((await call(app, other.key, "POST", "/api/metrics", { points: [{ name: "probe", value: 20, time: now - 10_000 }] })).status).toBe(202)
    expect((await call(app, other.key, "POST", "/api/metrics", { points: [{ name: "probe", value: 1, time: now - 5_000 }] })).status).toBe(202)
    // The alert job that applies the detect job's evaluation is its child, in the same trace; or, when
    // that job comes later than the evaluation sweep (10 s, a busy machine), the sweep's: another trace,
    // whose AlertStage.evaluate span links to the detect job's transaction in this one.
    const evaluateLinkingTo = async (d: Detail) => {
      const ids = d.spans.map((s) => s.spanId)
      const rows = await app.sql<{ links: Array<{ traceId: string; spanId: string }> }>(
        "SELECT links FROM spans WHERE tenant_id = $1 AND name = 'AlertStage.evaluate' AND start_time > now() - interval '5 minutes'", [selfId]
      )
      return rows.find((r) => (r.links ?? []).some((l) => l.traceId === d.traceId && ids.includes(l.spanId)))
    }
    const found = await eventually(async () => {
      const page = (await (await call(app, selfKey, "GET", `/api/executions?operation=${encodeURIComponent("POST /api/metrics")}&limit=50`)).json()) as {
        executions: Array<{ executionId: string }>
      }
      for (const e of page.executions) {
        const d = (await (await call(app, selfKey, "GET", `/api/executions/${e.executionId}`)).json()) as Detail
        if (!d.spans.some((s) => s.name === "Worker.detect" && s.attributes.tenantId === other.id)) continue
        if (d.spans.some((s) => s.name === "Worker.alert" && s.attributes.tenantId === other.id)) {
          const evaluate = d.spans.find((s) => s.name === "AlertStage.evaluate")
          const stored = await app.sql<{ links: Array<{ traceId: string; spanId: string }> }>(
            "SELECT links FROM spans WHERE tenant_id = $1 AND trace_id = $2 AND span_id = $3", [selfId, d.traceId, evaluate?.spanId ?? ""]
          )
          return { detail: d, inTrace: true, links: stored[0]?.links ?? [] }
        }
        const swept = await evaluateLinkingTo(d)
        if (swept !== undefined) return { detail: d, inTrace: false, links: swept.links }
      }
      return undefined
    }, 45_000, 500)
    const { detail, inTrace, links } = found
    const [detect] = detail.spans.filter((s) => s.name === "Worker.detect")
    expect(ancestors(detail.spans, detect as SpanNode)).toEqual(expect.arrayContaining(["Aggregator.closePass", "Worker.aggregate", "Worker.ingest", "POST /api/metrics"]))
    if (inTrace) {
      const [alert] = detail.spans.filter((s) => s.name === "Worker.alert")
      expect(ancestors(detail.spans, alert as SpanNode)).toContain("Worker.detect")
    }
    // The alert job applies whatever evaluations are pending, queued by any number of detect jobs: its
    // span links to the span each batch was queued in (here the one detect job's transaction).
    const linked = links.filter((l) => l.traceId === detail.traceId).map((l) => detail.spans.find((s) => s.spanId === l.spanId))
    expect(linked.map((s) => s?.name)).toEqual(["Db.transaction"])
    expect(ancestors(detail.spans, linked[0] as SpanNode)).toContain("Worker.detect")
  }, 90_000)

  it("ingesting its own spans traces nothing: the self tenant's jobs make no spans, nor do probes", async () => {
    // Each ingestion of a batch of the service's spans would, traced, put its job's spans into a later
    // batch: wait until the self tenant's span count has grown three times (each poll is a request, so a span).
    const counts = new Set<number>()
    await eventually(async () => {
      await call(app, selfKey, "GET", "/api/executions?limit=1")
      await fetch(`${app.baseUrl}/healthz`)
      const r = await app.sql<{ n: number }>("SELECT count(*)::int AS n FROM spans WHERE tenant_id = $1", [selfId])
      counts.add(r[0]?.n ?? 0)
      return counts.size > 3 ? true : undefined
    }, 30_000, 300)
    const own = await app.sql<{ n: number }>(
      "SELECT count(*)::int AS n FROM spans WHERE tenant_id = $1 AND name LIKE 'Worker.%' AND attributes->>'tenantId' = $1", [selfId]
    )
    expect(own[0]?.n).toBe(0)
    // Probes are not traced either; the queries made meanwhile are.
    const byName = await app.sql<{ name: string; n: number }>(
      "SELECT name, count(*)::int AS n FROM spans WHERE tenant_id = $1 AND name IN ('GET /healthz', 'GET /api/executions') GROUP BY name", [selfId]
    )
    expect(byName.map((r) => r.name)).toEqual(["GET /api/executions"])
  }, 40_000)

  it("the service's own metrics arrive in the self tenant as metric points (deltas every 15 s)", async () => {
    const rows = await eventually(async () => {
      const r = await app.sql<{ name: string; value: number; service_name: string; attributes: Record<string, unknown> }>(
        "SELECT name, value, service_name, attributes FROM metric_points WHERE tenant_id = $1 AND name IN ('mplp_points_accepted', 'mplp_jobs_processed', 'nodejs.eventloop.delay.p99', 'nodejs.eventloop.utilization')", [selfId]
      )
      return r.some((x) => x.name === "mplp_points_accepted") ? r : undefined
    }, 30_000, 500)
    expect(rows.every((r) => r.service_name === "mplp-trace")).toBe(true)
    expect(rows.some((r) => r.name === "mplp_jobs_processed" && r.attributes.stage === "ingest" && r.value >= 1)).toBe(true)
    // The runtime gauges too (src/telemetry/eventLoop.ts): how late and how busy the main thread's loop was.
    expect(rows.some((r) => r.name === "nodejs.eventloop.delay.p99" && r.value >= 0)).toBe(true)
    expect(rows.some((r) => r.name === "nodejs.eventloop.utilization" && r.value > 0 && r.value <= 1)).toBe(true)
  }, 40_000)
})
