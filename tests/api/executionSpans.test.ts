import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"

// Executions are spans of their traces: the root span of a trace they start, or a child span of the
// caller's when started with a traceparent; OTLP spans sent under them attach, whichever comes first.

let app: TestApp
beforeAll(async () => {
  app = await startApp()
})
afterAll(async () => {
  await app.close()
})

const hex = (bytes: number) => randomBytes(bytes).toString("hex")
const startBody = (extra: Record<string, unknown> = {}) => ({
  operationName: "plan-trip", serviceName: "planner-agent", context: { contextId: "ctx-1", userId: "user-1" }, ...extra
})

interface Started { executionId: string; traceId: string; spanId: string; traceparent: string }
interface SpanNode {
  spanId: string; parentSpanId: string | null; name: string; serviceName: string; kind: number; statusCode: number
  statusMessage: string | null; depth: number; criticalPathMs: number; attributes: Record<string, unknown>; events: Array<{ name: string }>
}
interface Detail {
  executionId: string; traceId: string; spanId: string; parentSpanId: string | null; status: string; spans: Array<SpanNode>
  analysis: null | { overallPerformance: { spanCount: number; serviceCount: number } }
}

const start = async (key: string, body: Record<string, unknown> = {}, headers: Record<string, string> = {}) => {
  const res = await call(app, key, "POST", "/api/executions", startBody(body), headers)
  expect(res.status).toBe(201)
  return (await res.json()) as Started
}
const detailWhen = (key: string, id: string, ready: (d: Detail) => boolean) =>
  eventually(async () => {
    const res = await call(app, key, "GET", `/api/executions/${id}`)
    if (res.status !== 200) return undefined
    const d = (await res.json()) as Detail
    return ready(d) ? d : undefined
  })

const nanos = (ms: number) => String(BigInt(Math.round(ms)) * 1_000_000n)
const otlp = (service: string, spans: ReadonlyArray<{ traceId: string; spanId: string; parent: string | null; name: string; startMs: number; endMs: number }>) => ({
  resourceSpans: [{
    resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] },
    scopeSpans: [{
      spans: spans.map((s) => ({
        traceId: s.traceId, spanId: s.spanId, ...(s.parent === null ? {} : { parentSpanId: s.parent }), name: s.name, kind: 3,
        startTimeUnixNano: nanos(s.startMs), endTimeUnixNano: nanos(s.endMs), status: { code: 1 }
      }))
    }]
  }]
})

describe("an execution is a span of its trace", () => {
  it("starts its trace as a SERVER root span with the seed's attributes, events and status; the traceparent names it", async () => {
    const t = await app.tenant()
    const s = await start(t.key, { operationType: "planning", priority: "high", tags: { team: "red" } })
    expect(s.executionId).toBe(s.traceId)
    expect(s.traceparent).toBe(`00-${s.traceId}-${s.spanId}-01`)
    expect((await call(app, t.key, "PATCH", `/api/executions/${s.executionId}`, {
      currentOperation: "search", events: [{ eventName: "tool-call", eventType: "info", timestamp: Date.now() }]
    })).status).toBe(202)
    const running = await detailWhen(t.key, s.executionId, (d) => d.spans.length === 1)
    expect(running.spans[0]).toMatchObject({ spanId: s.spanId, parentSpanId: null, name: "plan-trip", serviceName: "planner-agent", kind: 2, statusCode: 0, depth: 0 })
    expect((await call(app, t.key, "POST", `/api/executions/${s.executionId}/finish`, { success: false, errorMessage: "no flights" })).status).toBe(202)
    await detailWhen(t.key, s.executionId, (d) => d.status === "failed")
    const rows = await eventually(async () => {
      const r = await app.sql<{ name: string; kind: number; status_code: number; status_message: string; service_name: string; attributes: Record<string, unknown>; events: Array<{ name: string }> }>(
        "SELECT name, kind, status_code, status_message, service_name, attributes, events FROM spans WHERE tenant_id = $1 AND trace_id = $2", [t.id, s.traceId]
      )
      return r.length > 0 ? r : undefined
    })
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({ name: "plan-trip", kind: 2, status_code: 2, status_message: "no flights", service_name: "planner-agent" })
    expect(rows[0]?.attributes).toEqual({
      team: "red", "mplp.service.name": "planner-agent", "mplp.context.id": "ctx-1", "mplp.user.id": "user-1",
      "mplp.operation.type": "planning", "mplp.priority": "high", "mplp.execution.id": s.executionId
    })
    expect(rows[0]?.events.map((e) => e.name)).toEqual(["tool-call"])
    const done = await detailWhen(t.key, s.executionId, () => true)
    expect(done.spans.map((x) => [x.spanId, x.statusCode])).toEqual([[s.spanId, 2]])
  })

  it("an agent's hand-off by traceparent (body or header) is a child execution in the same trace, with its own id; both pages show both", async () => {
    const t = await app.tenant()
    const planner = await start(t.key)
    const viaBody = await start(t.key, { operationName: "research", serviceName: "researcher-agent", traceparent: planner.traceparent })
    const viaHeader = await start(t.key, { operationName: "book", serviceName: "booking-agent" }, { traceparent: viaBody.traceparent })
    for (const child of [viaBody, viaHeader]) {
      expect(child.traceId).toBe(planner.traceId)
      expect(child.executionId).toBe(`${planner.traceId}-${child.spanId}`)
    }
    // Each execution is updated and finished by its own id, in its own order.
    for (const e of [viaHeader, viaBody, planner]) {
      expect((await call(app, t.key, "PATCH", `/api/executions/${e.executionId}`, { progressPercentage: 50 })).status).toBe(202)
      expect((await call(app, t.key, "POST", `/api/executions/${e.executionId}/finish`, { success: true })).status).toBe(202)
    }
    const top = await detailWhen(t.key, planner.executionId, (d) => d.status === "completed" && d.spans.length === 3 && d.analysis !== null)
    expect(top.spans.map((x) => [x.name, x.depth, x.parentSpanId])).toEqual([
      ["plan-trip", 0, null], ["research", 1, planner.spanId], ["book", 2, viaBody.spanId]
    ])
    expect(top.analysis?.overallPerformance).toMatchObject({ spanCount: 3, serviceCount: 3 })
    const middle = await detailWhen(t.key, viaBody.executionId, (d) => d.status === "completed" && d.analysis !== null)
    expect(middle).toMatchObject({ executionId: viaBody.executionId, traceId: planner.traceId, spanId: viaBody.spanId, parentSpanId: planner.spanId })
    expect(middle.spans).toHaveLength(3)
    // Its analysis covers its own subtree: itself and the booking agent.
    expect(middle.analysis?.overallPerformance).toMatchObject({ spanCount: 2, serviceCount: 2 })
    const listed = (await (await call(app, t.key, "GET", "/api/executions?limit=10")).json()) as { executions: Array<{ executionId: string }> }
    expect(listed.executions.map((e) => e.executionId).sort()).toEqual([planner.executionId, viaBody.executionId, viaHeader.executionId].sort())
  })

  it("OTLP spans sent under an execution attach to it whether they arrive before its start is stored or after its finish", async () => {
    const t = await app.tenant()
    const s = await start(t.key)
    const now = Date.now()
    const early = hex(8)
    const earlyChild = hex(8)
    const late = hex(8)
    // Sent at once: the start may still be queued, its span not known yet.
    expect((await call(app, t.key, "POST", "/v1/traces", otlp("search-tool", [
      { traceId: s.traceId, spanId: early, parent: s.spanId, name: "web_search", startMs: now, endMs: now + 40 },
      { traceId: s.traceId, spanId: earlyChild, parent: early, name: "http GET", startMs: now + 5, endMs: now + 35 }
    ]))).status).toBe(200)
    expect((await call(app, t.key, "POST", `/api/executions/${s.executionId}/finish`, { success: true })).status).toBe(202)
    await detailWhen(t.key, s.executionId, (d) => d.status === "completed")
    expect((await call(app, t.key, "POST", "/v1/traces", otlp("llm", [
      { traceId: s.traceId, spanId: late, parent: s.spanId, name: "chat", startMs: now + 50, endMs: now + 80 }
    ]))).status).toBe(200)
    const d = await detailWhen(t.key, s.executionId, (x) => x.spans.length === 4 && x.analysis?.overallPerformance.spanCount === 4)
    expect(d.spans.map((x) => [x.name, x.depth])).toEqual([["plan-trip", 0], ["web_search", 1], ["http GET", 2], ["chat", 1]])
    // No OTLP span became an execution of its own: the trace has the native one.
    const executions = await app.sql("SELECT execution_id FROM executions WHERE tenant_id = $1", [t.id])
    expect(executions).toEqual([{ execution_id: s.executionId }])
  })

  it("a native execution under an OTLP root span is the trace's execution; the root arriving later does not make another", async () => {
    const t = await app.tenant()
    const traceId = hex(16)
    const root = hex(8)
    const s = await start(t.key, { traceparent: `00-${traceId}-${root}-01` })
    expect(s.executionId).toBe(traceId)
    expect((await call(app, t.key, "POST", `/api/executions/${s.executionId}/finish`, { success: true })).status).toBe(202)
    await detailWhen(t.key, traceId, (d) => d.status === "completed")
    const now = Date.now()
    expect((await call(app, t.key, "POST", "/v1/traces", otlp("gateway", [
      { traceId, spanId: root, parent: null, name: "POST /trip", startMs: now - 5000, endMs: now + 1000 }
    ]))).status).toBe(200)
    const d = await detailWhen(t.key, traceId, (x) => x.spans.length === 2)
    expect(d.spans.map((x) => [x.name, x.depth])).toEqual([["POST /trip", 0], ["plan-trip", 1]])
    expect(d).toMatchObject({ executionId: traceId, spanId: s.spanId, parentSpanId: root })
    expect(await app.sql("SELECT source FROM executions WHERE tenant_id = $1", [t.id])).toEqual([{ source: "api" }])
  })

  it("a bad traceparent in the body is a 400 naming it; a bad traceparent header is ignored (a new trace)", async () => {
    const t = await app.tenant()
    for (const bad of ["00-xyz", `00-${"0".repeat(32)}-${hex(8)}-01`, `ff-${hex(16)}-${hex(8)}-01`, `00-${hex(16)}-${hex(8)}-01-extra`]) {
      const res = await call(app, t.key, "POST", "/api/executions", startBody({ traceparent: bad }))
      expect(res.status, bad).toBe(400)
      expect(((await res.json()) as { issues: Array<{ path: string }> }).issues.map((i) => i.path)).toEqual(["traceparent"])
    }
    const other = hex(16)
    expect((await call(app, t.key, "POST", "/api/executions", startBody({ traceparent: `00-${hex(16)}-${hex(8)}-01`, traceId: other }))).status).toBe(400)
    const s = await start(t.key, {}, { traceparent: "garbage" })
    expect(s.executionId).toBe(s.traceId)
    expect(s.traceparent).toMatch(new RegExp(`^00-${s.traceId}-${s.spanId}-01$`))
  })

  it("a timed-out execution's span ends with ERROR status", async () => {
    const t = await app.tenant(["ingest", "query"], { traceTimeoutSeconds: 1 })
    const s = await start(t.key)
    const rows = await eventually(async () => {
      const r = await app.sql<{ status_code: number; status_message: string }>(
        "SELECT status_code, status_message FROM spans WHERE tenant_id = $1 AND span_id = $2", [t.id, s.spanId]
      )
      return r.length > 0 ? r : undefined
    }, 20_000)
    expect(rows).toEqual([{ status_code: 2, status_message: "timed out" }])
  })
})
