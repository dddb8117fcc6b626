import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer"
import { randomBytes } from "node:crypto"
import { ADMIN_TOKEN, call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"
import { pb } from "../ingest/otlpFixtures.ts"
import { drained, withIngestQueue } from "./queue.ts"

// Inputs an attacker would try, found in issue #13: each must be refused with a 4xx naming the field (or
// counted in an OTLP partialSuccess), and whatever is accepted must be stored without a failing job.

let app: TestApp
beforeAll(async () => {
  app = await startApp({}, { MPLP_EVENT_MAX_AGE_SECONDS: "86400" })
})
afterAll(async () => {
  await app.close()
})

const hex = (bytes: number) => randomBytes(bytes).toString("hex")
const nowNanos = (offsetMs = 0) => BigInt(Date.now() + offsetMs) * 1_000_000n
const deep = (n: number) => "[".repeat(n) + "]".repeat(n)
const startBody = { operationName: "op", serviceName: "svc", context: { contextId: "c", userId: "u" } }

const raw = (path: string, key: string, body: string | Uint8Array, contentType = "application/json", method = "POST") =>
  fetch(`${app.baseUrl}${path}`, { method, headers: { authorization: `Bearer ${key}`, "content-type": contentType }, body })

type ErrorBody = { message: string; issues?: Array<{ path: string; message: string }> }
type OtlpBody = { partialSuccess?: { rejectedSpans?: number; rejectedDataPoints?: number; errorMessage?: string } }

/** Every ingest job the app ran succeeded at its first attempt: none failed, none waits for a retry. */
const noJobFailed = async () => {
  await drained(app)
  const counts = await withIngestQueue(app, (q) => q.getJobCounts("failed", "delayed"))
  expect(counts).toEqual({ failed: 0, delayed: 0 })
}

const started = async (key: string) => {
  const res = await call(app, key, "POST", "/api/executions", startBody)
  expect(res.status).toBe(201)
  return ((await res.json()) as { traceId: string }).traceId
}

describe("bodies nested thousands of levels deep", () => {
  it("are a 400 on every JSON endpoint, never a 500", async () => {
    const t = await app.tenant()
    const traceId = await started(t.key)
    const body = deep(3_000)
    const attempts = await Promise.all([
      raw("/api/metrics", t.key, `{"points":${body}}`),
      raw("/api/executions", t.key, `{"operationName":"a","serviceName":"b","context":{"contextId":"c","userId":"u"},"metadata":{"a":${body}}}`),
      raw(`/api/executions/${traceId}`, t.key, `{"customAttributes":{"a":${body}}}`, "application/json", "PATCH"),
      raw(`/api/executions/${traceId}/finish`, t.key, `{"success":true,"errors":${body}}`),
      raw("/api/jobs", t.key, `{"kind":"metrics","payload":${body}}`),
      raw("/v1/traces", t.key, `{"resourceSpans":${body}}`),
      raw("/v1/metrics", t.key, `{"resourceMetrics":${body}}`),
      raw("/api/admin/tenants", ADMIN_TOKEN, `{"id":${body}}`),
      raw(`/api/admin/tenants/${t.id}/settings`, ADMIN_TOKEN, `{"windows":${body}}`, "application/json", "PUT"),
      raw(`/api/admin/tenants/${t.id}/keys`, ADMIN_TOKEN, `{"scopes":${body}}`)
    ])
    expect(attempts.map((r) => r.status)).toEqual(attempts.map(() => 400))
    for (const r of attempts) expect(((await r.json()) as ErrorBody).message).toMatch(/more than 100 levels deep/)
  })

  it("a malformed admin body is a 400 too (admin bodies are now read by the same parser)", async () => {
    const t = await app.tenant()
    const bad = await Promise.all([
      raw("/api/admin/tenants", ADMIN_TOKEN, "{"),
      raw(`/api/admin/tenants/${t.id}/settings`, ADMIN_TOKEN, "[1,", "application/json", "PUT"),
      raw(`/api/admin/tenants/${t.id}/keys`, ADMIN_TOKEN, "nope")
    ])
    expect(bad.map((r) => r.status)).toEqual([400, 400, 400])
  })
})

describe("error messages", () => {
  it("quote the offending value only as a short excerpt", async () => {
    const t = await app.tenant()
    const huge = "x".repeat(20_000)
    const nested = JSON.parse(deep(90)) as unknown
    const cases = await Promise.all([
      call(app, t.key, "POST", "/api/metrics", { points: [{ name: "n", value: huge }] }),
      call(app, t.key, "POST", "/api/metrics", { points: [{ name: "n", value: nested, time: huge }] }),
      call(app, t.key, "POST", "/api/executions", { ...startBody, context: huge, samplingRate: nested }),
      call(app, t.key, "POST", "/api/jobs", { kind: huge, payload: {} }),
      app.admin("PUT", `/api/admin/tenants/${t.id}/settings`, { windows: { sizeSeconds: huge }, detector: nested }),
      call(app, t.key, "GET", `/api/metrics/series?name=x&from=${huge.slice(0, 8_000)}`),
      call(app, t.key, "GET", `/api/jobs?state=failed&limit=${huge.slice(0, 8_000)}`)
    ])
    for (const res of cases) {
      expect(res.status).toBe(400)
      const text = await res.text()
      expect(text.length).toBeLessThan(3_000)
      expect(text).not.toContain("x".repeat(200))
      expect(text).not.toContain("[".repeat(10))
    }
  })

  it("a 404 quotes a long identifier from the path only by its start and length", async () => {
    const t = await app.tenant()
    const id = "x".repeat(4_000)
    const cases = await Promise.all([
      call(app, t.key, "GET", `/api/alerts/${id}`),
      call(app, t.key, "POST", `/api/alerts/${id}/ack`),
      call(app, t.key, "GET", `/api/executions/${id}`),
      call(app, t.key, "GET", `/api/jobs/${t.id}.${id}`),
      app.admin("GET", `/api/admin/tenants/${id}`),
      app.admin("POST", `/api/admin/tenants/${t.id}/channels/${id}/test`)
    ])
    for (const res of cases) {
      const text = await res.text()
      expect(res.status, text.slice(0, 200)).toBe(404)
      expect(text.length).toBeLessThan(400)
      expect(text).not.toContain("x".repeat(100))
      expect(text, res.url.slice(0, 60)).toMatch(/characters\)/)
      expect(JSON.parse(text)).toMatchObject({ _tag: "NotFound" })
    }
  })
})

describe("OTLP enums and ranges", () => {
  const span = (traceId: string, name: string, extra: Record<string, unknown> = {}) => ({
    traceId, spanId: hex(8), name, startTimeUnixNano: `${nowNanos(-5)}`, endTimeUnixNano: `${nowNanos()}`, ...extra
  })
  const jsonTraces = (spans: Array<unknown>) => JSON.stringify({
    resourceSpans: [{ resource: { attributes: [{ key: "service.name", value: { stringValue: "enums" } }] }, scopeSpans: [{ spans }] }]
  })

  it("refuse inherited names and out-of-range numbers per span, keeping the rest of the batch", async () => {
    const t = await app.tenant()
    const traceId = hex(16)
    const res = await raw("/v1/traces", t.key, jsonTraces([
      span(traceId, "good", { kind: "SPAN_KIND_SERVER" }),
      span(traceId, "constructor-kind", { kind: "constructor" }),
      span(traceId, "toString-status", { status: { code: "toString" } }),
      span(traceId, "big-kind", { kind: 70_000 }),
      span(traceId, "negative-status", { status: { code: -1 } })
    ]))
    expect(res.status).toBe(200)
    const json = (await res.json()) as OtlpBody
    expect(json.partialSuccess?.rejectedSpans).toBe(4)
    expect(json.partialSuccess?.errorMessage).toMatch(/kind/)

    // protobuf: a span kind of 70000 and a status code of 70000 (the smallint columns take 32767).
    const pbTrace = hex(16)
    const spanPb = (name: string, ...fields: Array<Array<number>>) =>
      pb.len(2, pb.hex(1, pbTrace), pb.hex(2, hex(8)), pb.str(5, name), pb.fixed64(7, nowNanos(-5)), pb.fixed64(8, nowNanos()), ...fields)
    const proto = pb.bytes(pb.len(1, pb.len(1, pb.kv(1, "service.name", pb.str(1, "enums-pb"))), pb.len(2,
      spanPb("ok", pb.int(6, 2)), spanPb("kind", pb.int(6, 70_000)), spanPb("status", pb.len(15, pb.int(3, 70_000))), spanPb("neg", pb.int(6, -3)))))
    const pbRes = await raw("/v1/traces", t.key, proto, "application/x-protobuf")
    expect(pbRes.status).toBe(200)
    const decoded = ProtobufTraceSerializer.deserializeResponse(new Uint8Array(await pbRes.arrayBuffer()))
    expect(Number(decoded.partialSuccess?.rejectedSpans)).toBe(3)

    await noJobFailed()
    const rows = await app.sql<{ name: string; kind: number }>("SELECT name, kind FROM spans WHERE tenant_id = $1 ORDER BY name", [t.id])
    expect(rows).toEqual([{ name: "good", kind: 2 }, { name: "ok", kind: 2 }])
  })
})

describe("strings PostgreSQL cannot store", () => {
  it("NUL characters and unpaired surrogates become U+FFFD, in JSON and protobuf, and every job succeeds", async () => {
    const t = await app.tenant()
    const name = "cpu\u0000load"
    // JSON.stringify writes lone surrogates as \ud800 escapes, as an attacker's body would.
    const metrics = await call(app, t.key, "POST", "/api/metrics", {
      points: [{ name, value: 1, serviceName: "svc\ud800", attributes: { "k\u0000": "v\udc00", lone: "\ud83d" } }]
    })
    expect(metrics.status).toBe(202)
    const exec = await call(app, t.key, "POST", "/api/executions", { ...startBody, metadata: { "a\u0000b": ["\ud800", { "\udfff": "\u0000" }] }, tags: ["t\u0000"] })
    expect(exec.status).toBe(201)
    const traceId = hex(16)
    const otlpJson = await raw("/v1/traces", t.key, JSON.stringify({
      resourceSpans: [{ scopeSpans: [{ spans: [{
        traceId, spanId: hex(8), name: "span\u0000\ud800", startTimeUnixNano: `${nowNanos(-5)}`, endTimeUnixNano: `${nowNanos()}`,
        attributes: [{ key: "k\u0000", value: { stringValue: "\udbff" } }], status: { message: "\u0000" }
      }] }] }]
    }))
    expect(otlpJson.status).toBe(200)
    const pbTrace = hex(16)
    const proto = pb.bytes(pb.len(1, pb.len(1, pb.kv(1, "service.name", pb.str(1, "nul\u0000svc"))), pb.len(2,
      pb.len(2, pb.hex(1, pbTrace), pb.hex(2, hex(8)), pb.str(5, "a\u0000b"), pb.fixed64(7, nowNanos(-5)), pb.fixed64(8, nowNanos()),
        pb.kv(9, "key\u0000with a long tail to leave the short-string path", pb.str(1, "v\u0000"))))))
    expect((await raw("/v1/traces", t.key, proto, "application/x-protobuf")).status).toBe(200)

    await noJobFailed()
    const points = await app.sql<{ name: string; service_name: string; attributes: Record<string, string> }>(
      "SELECT name, service_name, attributes FROM metric_points WHERE tenant_id = $1", [t.id])
    expect(points).toEqual([{ name: "cpu\uFFFDload", service_name: "svc\uFFFD", attributes: { "k\uFFFD": "v\uFFFD", lone: "\uFFFD" } }])
    const spans = await app.sql<{ name: string; service_name: string }>("SELECT name, service_name FROM spans WHERE tenant_id = $1 ORDER BY name", [t.id])
    expect(spans).toEqual([{ name: "a\uFFFDb", service_name: "nul\uFFFDsvc" }, { name: "span\uFFFD\uFFFD", service_name: "unknown_service" }])
    const stored = await eventually(async () => (await app.sql<{ metadata: unknown }>("SELECT metadata FROM executions WHERE tenant_id = $1 AND source = 'api'", [t.id]))[0])
    expect(stored.metadata).toEqual({ "a\uFFFDb": ["\uFFFD", { "\uFFFD": "\uFFFD" }] })
  })
})

describe("names, attributes and times", () => {
  it("the longest names allowed, in the widest characters, are stored and windowed (the series key fits its index)", async () => {
    const t = await app.tenant(["ingest", "query"], { windows: { sizeSeconds: 1, allowedLatenessSeconds: 0, idleTimeoutSeconds: 1 } })
    const widest = (c: string) => c.repeat(256)
    const res = await call(app, t.key, "POST", "/api/metrics", {
      points: [{ name: widest("%"), value: 1, serviceName: widest("€") }, { name: widest("語"), value: 2, serviceName: widest("|") }]
    })
    expect(res.status).toBe(202)
    const traceId = hex(16)
    const proto = pb.bytes(pb.len(1, pb.len(1, pb.kv(1, "service.name", pb.str(1, widest("%")))), pb.len(2,
      pb.len(2, pb.hex(1, traceId), pb.hex(2, hex(8)), pb.str(5, widest("語")), pb.fixed64(7, nowNanos(-5)), pb.fixed64(8, nowNanos())))))
    expect((await raw("/v1/traces", t.key, proto, "application/x-protobuf")).status).toBe(200)
    await noJobFailed()
    // The widest series keys (metric|service|operation) reach metric_windows, whose primary key indexes them.
    const windows = await eventually(async () => {
      const rows = await app.sql<{ n: number }>("SELECT count(*)::int AS n FROM metric_windows WHERE tenant_id = $1", [t.id])
      return (rows[0]?.n ?? 0) >= 4 ? rows[0]!.n : undefined
    }, 40_000)
    expect(windows).toBe(4)
  }, 60_000)

  it("over-long names, attribute keys and values, and too many attributes: 400 naming the field, or counted in partialSuccess", async () => {
    const t = await app.tenant()
    const many = Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`k${i}`, i]))
    const native = await Promise.all([
      call(app, t.key, "POST", "/api/metrics", { points: [{ name: "n".repeat(257), value: 1 }] }),
      call(app, t.key, "POST", "/api/metrics", { points: [{ name: "n", value: 1, attributes: many }] }),
      call(app, t.key, "POST", "/api/metrics", { points: [{ name: "n", value: 1, attributes: { ["k".repeat(257)]: 1 } }] }),
      call(app, t.key, "POST", "/api/metrics", { points: [{ name: "n", value: 1, attributes: { k: "v".repeat(65_537) } }] }),
      call(app, t.key, "POST", "/api/executions", { ...startBody, serviceName: "s".repeat(257) })
    ])
    const paths = await Promise.all(native.map(async (r) => {
      expect(r.status).toBe(400)
      return ((await r.json()) as ErrorBody).issues?.map((i) => i.path)
    }))
    expect(paths.map((p) => [...new Set(p)].map((x) => x.slice(0, 30)))).toEqual([["points.0.name"], ["points.0.attributes"], [`points.0.attributes.${"k".repeat(257)}`.slice(0, 30)], ["points.0.attributes.k"], ["serviceName"]])

    const traceId = hex(16)
    const attrs = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: { intValue: i } }))
    const spans = [
      { name: "ok", attributes: attrs(128) },
      { name: "n".repeat(257) },
      { name: "too-many", attributes: attrs(129) },
      { name: "long-key", attributes: [{ key: "k".repeat(257), value: { boolValue: true } }] },
      { name: "long-value", attributes: [{ key: "k", value: { stringValue: "v".repeat(65_537) } }] },
      { name: "long-array", attributes: [{ key: "k", value: { arrayValue: { values: Array.from({ length: 1_025 }, () => ({ intValue: 1 })) } } }] },
      { name: "long-event", events: [{ name: "e".repeat(257), timeUnixNano: `${nowNanos()}` }] }
    ].map((s) => ({ traceId, spanId: hex(8), startTimeUnixNano: `${nowNanos(-5)}`, endTimeUnixNano: `${nowNanos()}`, ...s }))
    const res = await raw("/v1/traces", t.key, JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] }))
    const json = (await res.json()) as OtlpBody
    expect(json.partialSuccess?.rejectedSpans).toBe(6)
    const longService = await raw("/v1/metrics", t.key, JSON.stringify({ resourceMetrics: [{
      resource: { attributes: [{ key: "service.name", value: { stringValue: "s".repeat(257) } }] },
      scopeMetrics: [{ metrics: [{ name: "g", gauge: { dataPoints: [{ timeUnixNano: `${nowNanos()}`, asDouble: 1 }, { timeUnixNano: `${nowNanos()}`, asDouble: 2 }] } }] }]
    }] }))
    const m = (await longService.json()) as OtlpBody
    expect(m.partialSuccess?.rejectedDataPoints).toBe(2)
    expect(m.partialSuccess?.errorMessage).toMatch(/service\.name/)
    await noJobFailed()
    expect(await app.sql("SELECT name FROM spans WHERE tenant_id = $1", [t.id])).toEqual([{ name: "ok" }])
  })

  it("event times outside now − MPLP_EVENT_MAX_AGE_SECONDS … now + 10 min are refused", async () => {
    const t = await app.tenant()
    const day = 86_400_000
    const native = await Promise.all([
      call(app, t.key, "POST", "/api/metrics", { points: [{ name: "n", value: 1, time: 8.64e15 }, { name: "n", value: 1 }] }),
      call(app, t.key, "POST", "/api/metrics", { points: [{ name: "n", value: 1 }, { name: "n", value: 1, time: "1970-01-02T00:00:00Z" }] }),
      call(app, t.key, "POST", "/api/metrics", { points: [{ name: "n", value: 1, time: Date.now() - 2 * day }] }),
      call(app, t.key, "POST", "/api/metrics", { points: [{ name: "n", value: 1, time: Date.now() + 11 * 60_000 }] }),
      call(app, t.key, "POST", "/api/jobs", { kind: "metrics", payload: { points: [{ name: "n", value: 1, time: 0 }] } }),
      call(app, t.key, "PATCH", `/api/executions/${await started(t.key)}`, { events: [{ eventName: "e", eventType: "info", timestamp: "+275760-09-13T00:00:00Z" }] })
    ])
    const paths = await Promise.all(native.map(async (r) => {
      expect(r.status).toBe(400)
      const body = (await r.json()) as ErrorBody
      expect(body.message).toMatch(/MPLP_EVENT_MAX_AGE_SECONDS/)
      return body.issues?.map((i) => i.path)
    }))
    expect(paths).toEqual([["points.0.time"], ["points.1.time"], ["points.0.time"], ["points.0.time"], ["payload.points.0.time"], ["events.0.timestamp"]])
    const ok = await call(app, t.key, "POST", "/api/metrics", { points: [{ name: "n", value: 1, time: Date.now() - day / 2 }, { name: "n", value: 1, time: Date.now() + 5 * 60_000 }] })
    expect(ok.status).toBe(202)

    const traceId = hex(16)
    const spans = [["old", 0n], ["far", 8_000_000_000_000n * 1_000_000n], ["now", nowNanos(-5)]].map(([name, start]) =>
      ({ traceId, spanId: hex(8), name, startTimeUnixNano: `${start}`, endTimeUnixNano: `${nowNanos()}` }))
    spans.push({ traceId, spanId: hex(8), name: "ends-far", startTimeUnixNano: `${nowNanos(-5)}`, endTimeUnixNano: `${nowNanos(3_600_000)}` })
    const res = await raw("/v1/traces", t.key, JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] }))
    const json = (await res.json()) as OtlpBody
    expect(json.partialSuccess?.rejectedSpans).toBe(3)
    expect(json.partialSuccess?.errorMessage).toMatch(/outside the accepted window/)
    await noJobFailed()
    expect(await app.sql("SELECT name FROM spans WHERE tenant_id = $1", [t.id])).toEqual([{ name: "now" }])
  })

  it("an execution's duration and metric names are bounded too", async () => {
    const t = await app.tenant()
    const traceId = await started(t.key)
    const finish = await call(app, t.key, "POST", `/api/executions/${traceId}/finish`, { success: true, durationMs: 1e300 })
    expect(finish.status).toBe(400)
    expect(((await finish.json()) as ErrorBody).issues?.map((i) => i.path)).toEqual(["durationMs"])
    const update = await call(app, t.key, "PATCH", `/api/executions/${traceId}`, { metrics: { ["m".repeat(3_000)]: 1 } })
    expect(update.status).toBe(400)
    expect((await call(app, t.key, "POST", `/api/executions/${traceId}/finish`, { success: true, durationMs: 1234 })).status).toBe(202)
    await noJobFailed()
  })
})

describe("numbers the pipeline computes with (found by the fuzzer)", () => {
  it("metric values outside 0 or 1e-100 … 1e100 in magnitude are refused: one of 1e200 overflowed the continuous aggregate's sum of squares for every tenant", async () => {
    const t = await app.tenant()
    for (const value of [1e200, -1e101, 1e-320, 1e-101]) {
      const res = await call(app, t.key, "POST", "/api/metrics", { points: [{ name: "v", value }] })
      expect(res.status).toBe(400)
      expect(((await res.json()) as ErrorBody).issues?.map((i) => i.path)).toEqual(["points.0.value"])
    }
    const traceId = await started(t.key)
    const finish = await call(app, t.key, "POST", `/api/executions/${traceId}/finish`, { success: true, durationMs: 5e-324, finalMetrics: { big: 1e200 } })
    expect(((await finish.json()) as ErrorBody).issues?.map((i) => i.path).sort()).toEqual(["durationMs", "finalMetrics.big"])
    const gauge = (asDouble: number) => ({ timeUnixNano: `${nowNanos()}`, asDouble })
    const otlp = await raw("/v1/metrics", t.key, JSON.stringify({ resourceMetrics: [{ scopeMetrics: [{ metrics: [
      { name: "g", gauge: { dataPoints: [gauge(1e200), gauge(1e-320), gauge(1e100)] } },
      { name: "h", histogram: { dataPoints: [{ timeUnixNano: `${nowNanos()}`, count: 1, sum: 1e300 }] } }
    ] }] }] }))
    expect(((await otlp.json()) as OtlpBody).partialSuccess?.rejectedDataPoints).toBe(3)
    const extremes = await call(app, t.key, "POST", "/api/metrics", { points: [1e100, -1e100, 1e-100, 0].map((value) => ({ name: "v", value, time: Date.now() - 120_000 })) })
    expect(extremes.status).toBe(202)
    await noJobFailed()
    await app.sql("CALL refresh_continuous_aggregate('metric_points_1m', NULL, now() - INTERVAL '1 minute')")
    const [minute] = await app.sql<{ count: number }>("SELECT count::int AS count FROM metric_points_1m WHERE tenant_id = $1 AND name = 'v'", [t.id])
    expect(minute?.count).toBe(4)
  })

  it("query times outside 1970 … 9999 and NUL in path parameters are a 400, not a 500 or 503", async () => {
    const t = await app.tenant()
    const res = await Promise.all([
      call(app, t.key, "GET", "/api/services?to=9007199254740992"),
      call(app, t.key, "GET", "/api/metrics/series?name=x&from=now-999999w"),
      call(app, t.key, "GET", "/api/anomalies?from=-271821-04-20T00:00:00Z"),
      call(app, t.key, "POST", "/api/alerts/%00/ack"),
      app.admin("GET", "/api/admin/tenants/a%00b/settings")
    ])
    expect(res.map((r) => r.status)).toEqual([400, 400, 400, 400, 400])
  })
})

describe("a deep trace through the API", () => {
  it("a 10,000-span linear chain (each span the parent of the next) renders as an execution with every span", async () => {
    const t = await app.tenant(["ingest", "query"], { quotas: { requestsPerSecond: 1_000, pointsPerSecond: 1_000_000 } })
    const traceId = hex(16)
    const ids = Array.from({ length: 10_000 }, () => hex(8))
    const t0 = nowNanos(-60_000)
    const spans = ids.map((spanId, i) => ({
      traceId, spanId, parentSpanId: i === 0 ? "" : ids[i - 1], name: `step-${i % 7}`,
      startTimeUnixNano: `${t0 + BigInt(i) * 1_000_000n}`, endTimeUnixNano: `${t0 + BigInt(20_000 - i) * 1_000_000n}`
    }))
    const res = await raw("/v1/traces", t.key, JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: "service.name", value: { stringValue: "deep" } }] }, scopeSpans: [{ spans }] }] }))
    expect(res.status).toBe(200)
    await noJobFailed()
    const started = performance.now()
    const detail = await call(app, t.key, "GET", `/api/executions/${traceId}`)
    const ms = performance.now() - started
    expect(detail.status).toBe(200)
    const body = (await detail.json()) as { spans: Array<{ depth: number; criticalPathMs: number }>; analysis: { overallPerformance: { spanCount: number; maxDepth: number } } | null }
    expect(body.spans).toHaveLength(10_000)
    expect(body.spans.at(-1)?.depth).toBe(9_999)
    expect(body.analysis?.overallPerformance).toMatchObject({ spanCount: 10_000, maxDepth: 9_999 })
    console.log(`detail of a 10,000-span chain: ${ms.toFixed(0)} ms`)
  }, 120_000)
})
