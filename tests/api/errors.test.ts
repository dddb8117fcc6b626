import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import { brotliCompressSync, gzipSync } from "node:zlib"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"

const LIMIT = 64 * 1024

let app: TestApp
beforeAll(async () => {
  app = await startApp({}, { MPLP_MAX_BODY_BYTES: String(LIMIT) })
})
afterAll(async () => {
  await app.close()
})

const onePoint = { points: [{ name: "cpuUsagePercent", value: 12 }] }
const startBody = { operationName: "op", serviceName: "svc", context: { contextId: "c", userId: "u" } }

const raw = (path: string, init: { method?: string; headers?: Record<string, string>; body?: string | Uint8Array | ReadableStream<Uint8Array> }) =>
  fetch(`${app.baseUrl}${path}`, { method: init.method ?? "POST", headers: init.headers ?? {}, ...(init.body === undefined ? {} : { body: init.body }), ...(init.body instanceof ReadableStream ? { duplex: "half" } : {}) } as RequestInit)

const issuesOf = async (res: Response) => ((await res.json()) as { message: string; issues?: Array<{ path: string | Array<unknown> }> })

const pathsOf = (body: { issues?: Array<{ path: string | Array<unknown> }> }) =>
  (body.issues ?? []).map((i) => (Array.isArray(i.path) ? i.path.join(".") : i.path))

const pointCount = async (tenantId: string) =>
  Number((await app.sql<{ n: number }>("SELECT count(*)::int AS n FROM metric_points WHERE tenant_id = $1", [tenantId]))[0]?.n)

describe("401: wrong, missing or revoked key", () => {
  it("refuses every form of a bad key, as Bearer or x-api-key", async () => {
    const t = await app.tenant()
    const [, id] = t.key.split("_")
    const forged = `mplp_${id}_${randomBytes(32).toString("base64url")}`
    const unknown = `mplp_${randomBytes(6).toString("hex")}_${randomBytes(32).toString("base64url")}`
    const body = JSON.stringify(onePoint)
    const json = { "content-type": "application/json" }
    const attempts = [
      raw("/api/metrics", { headers: json, body }),
      raw("/api/metrics", { headers: { ...json, authorization: "Bearer " }, body }),
      raw("/api/metrics", { headers: { ...json, authorization: "Bearer not-a-key" }, body }),
      raw("/api/metrics", { headers: { ...json, authorization: `Basic ${Buffer.from(`x:${t.key}`).toString("base64")}` }, body }),
      raw("/api/metrics", { headers: { ...json, authorization: `Bearer ${forged}` }, body }),
      raw("/api/metrics", { headers: { ...json, "x-api-key": forged }, body }),
      raw("/api/metrics", { headers: { ...json, "x-api-key": unknown }, body }),
      raw("/v1/traces", { headers: { "content-type": "application/json", authorization: `Bearer ${unknown}` }, body: "{}" }),
      raw(`/api/executions/${randomBytes(16).toString("hex")}`, { method: "GET", headers: { "x-api-key": forged } })
    ]
    const statuses = await Promise.all(attempts.map(async (p) => (await p).status))
    expect(statuses).toEqual(attempts.map(() => 401))
    expect(await pointCount(t.id)).toBe(0)
  })

  it("refuses a revoked key at once", async () => {
    const t = await app.tenant()
    expect((await call(app, t.key, "POST", "/api/metrics", onePoint)).status).toBe(202)
    expect((await app.admin("DELETE", `/api/admin/keys/${t.keyId}`)).status).toBe(204)
    const res = await call(app, t.key, "POST", "/api/metrics", onePoint)
    expect(res.status).toBe(401)
    expect(((await res.json()) as { message: string }).message).toMatch(/revoked/)
    const viaHeader = await raw("/api/metrics", { headers: { "x-api-key": t.key, "content-type": "application/json" }, body: JSON.stringify(onePoint) })
    expect(viaHeader.status).toBe(401)
  })
})

describe("403: the key lacks the scope", () => {
  it("a query-only key cannot ingest, an ingest-only key cannot read executions", async () => {
    const reader = await app.tenant(["query"])
    const writer = await app.tenant(["ingest"])
    const refused = await Promise.all([
      call(app, reader.key, "POST", "/api/metrics", onePoint),
      call(app, reader.key, "POST", "/api/executions", startBody),
      call(app, reader.key, "POST", "/api/jobs", { kind: "metrics", payload: onePoint }),
      raw("/v1/traces", { headers: { authorization: `Bearer ${reader.key}`, "content-type": "application/json" }, body: "{}" })
    ])
    expect(refused.map((r) => r.status)).toEqual([403, 403, 403, 403])
    expect(((await refused[0]!.json()) as { message: string }).message).toContain("ingest")
    const started = await call(app, writer.key, "POST", "/api/executions", startBody)
    expect(started.status).toBe(201)
    const { traceId } = (await started.json()) as { traceId: string }
    expect((await call(app, writer.key, "GET", `/api/executions/${traceId}`)).status).toBe(403)
    expect(await pointCount(reader.id)).toBe(0)
  })
})

describe("404: another tenant's execution", () => {
  it("is not found for reading, updating or finishing, and is left untouched", async () => {
    const a = await app.tenant()
    const b = await app.tenant()
    const started = await call(app, a.key, "POST", "/api/executions", { ...startBody, operationName: "secret-operation" })
    const { traceId } = (await started.json()) as { traceId: string }
    await eventually(async () => ((await call(app, a.key, "GET", `/api/executions/${traceId}`)).status === 200 ? true : undefined))

    const read = await call(app, b.key, "GET", `/api/executions/${traceId}`)
    expect(read.status).toBe(404)
    expect(await read.text()).not.toContain("secret-operation")
    expect((await call(app, b.key, "PATCH", `/api/executions/${traceId}`, { progressPercentage: 99 })).status).toBe(404)
    expect((await call(app, b.key, "POST", `/api/executions/${traceId}/finish`, { success: false })).status).toBe(404)
    // b starting an execution with a's trace id is b's own execution, not a hijack of a's.
    expect((await call(app, b.key, "POST", "/api/executions", { ...startBody, traceId })).status).toBe(201)

    const own = (await (await call(app, a.key, "GET", `/api/executions/${traceId}`)).json()) as { status: string; progressPercentage: number | null; operationName: string }
    expect(own).toMatchObject({ status: "active", progressPercentage: null, operationName: "secret-operation" })
    const theirs = await eventually(async () => {
      const res = await call(app, b.key, "GET", `/api/executions/${traceId}`)
      return res.status === 200 ? ((await res.json()) as { operationName: string }) : undefined
    })
    expect(theirs.operationName).toBe("op")
  })
})

describe("400: invalid bodies name the bad fields", () => {
  it("names every missing or wrong field of a start", async () => {
    const t = await app.tenant()
    const res = await call(app, t.key, "POST", "/api/executions", { serviceName: "", context: { contextId: "c" }, samplingRate: 3 })
    expect(res.status).toBe(400)
    const paths = pathsOf(await issuesOf(res))
    expect(paths).toEqual(expect.arrayContaining(["operationName", "serviceName", "context.userId", "samplingRate"]))
  })

  it("says a list or an object is expected in words, not by spelling out its whole type", async () => {
    const t = await app.tenant()
    const res = await call(app, t.key, "POST", "/api/metrics", { points: "cpu=1" })
    expect(res.status).toBe(400)
    const body = (await res.json()) as { message: string; issues: Array<{ path: string | Array<unknown>; message: string }> }
    expect(body.issues.map((i) => i.message)).toEqual(['Expected a list, actual "cpu=1"'])
    const one = await call(app, t.key, "POST", "/api/metrics", { points: [5] })
    expect(((await one.json()) as typeof body).issues.map((i) => i.message)).toEqual(["Expected an object, actual 5"])
  })

  it("refuses non-finite numbers (1e999 parses to Infinity)", async () => {
    const t = await app.tenant()
    const json = { authorization: `Bearer ${t.key}`, "content-type": "application/json" }
    const metric = await raw("/api/metrics", { headers: json, body: '{"points":[{"name":"cpu","value":1e999}]}' })
    expect(metric.status).toBe(400)
    expect(pathsOf(await issuesOf(metric))).toContain("points.0.value")
    const attr = await raw("/api/metrics", { headers: json, body: '{"points":[{"name":"cpu","value":1,"attributes":{"x":-1e999}}]}' })
    expect(attr.status).toBe(400)
    const started = (await (await call(app, t.key, "POST", "/api/executions", startBody)).json()) as { traceId: string }
    const update = await raw(`/api/executions/${started.traceId}`, { method: "PATCH", headers: json, body: '{"metrics":{"cpuUsagePercent":1e999}}' })
    expect(update.status).toBe(400)
    expect(pathsOf(await issuesOf(update))).toContain("metrics.cpuUsagePercent")
    const finish = await raw(`/api/executions/${started.traceId}/finish`, { headers: json, body: '{"success":true,"durationMs":1e999}' })
    expect(finish.status).toBe(400)
    expect(pathsOf(await issuesOf(finish))).toContain("durationMs")
    expect(await pointCount(t.id)).toBe(0)
  })

  it("refuses a body that is not JSON, and a malformed trace id in the path", async () => {
    const t = await app.tenant()
    const notJson = await raw("/api/metrics", { headers: { authorization: `Bearer ${t.key}`, "content-type": "application/json" }, body: "points=1" })
    expect(notJson.status).toBe(400)
    expect(((await notJson.json()) as { message: string }).message).toMatch(/JSON/)
    const badPath = await call(app, t.key, "PATCH", "/api/executions/ABC", { progressPercentage: 1 })
    expect(badPath.status).toBe(400)
    expect(JSON.stringify(await badPath.json())).toContain("traceId")
  })
})

describe("413: bodies over MPLP_MAX_BODY_BYTES", () => {
  const bigPoints = () => JSON.stringify({ points: Array.from({ length: 3000 }, (_, i) => ({ name: "padding-metric-name", value: i })) })

  it("refuses a body over the limit, declared or streamed", async () => {
    const t = await app.tenant()
    const body = bigPoints()
    expect(body.length).toBeGreaterThan(LIMIT)
    const declared = await call(app, t.key, "POST", "/api/metrics", JSON.parse(body))
    expect(declared.status).toBe(413)
    const bytes = new TextEncoder().encode(body)
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 8192) controller.enqueue(bytes.subarray(i, i + 8192))
        controller.close()
      }
    })
    const streamed = await raw("/api/metrics", { headers: { authorization: `Bearer ${t.key}`, "content-type": "application/json" }, body: stream })
    expect(streamed.status).toBe(413)
    expect(await pointCount(t.id)).toBe(0)
  })

  it("refuses a gzip or brotli bomb: a small body that expands past the limit", async () => {
    const t = await app.tenant()
    const expanded = `{"points":[${'{"name":"x","value":1},'.repeat(200_000)}{"name":"x","value":1}]}`
    const gz = gzipSync(expanded, { level: 9 })
    const br = brotliCompressSync(expanded)
    expect(gz.length).toBeLessThan(LIMIT)
    const headers = { authorization: `Bearer ${t.key}`, "content-type": "application/json" }
    const started = Date.now()
    const gzipped = await raw("/api/metrics", { headers: { ...headers, "content-encoding": "gzip" }, body: gz })
    const brotli = await raw("/api/metrics", { headers: { ...headers, "content-encoding": "br" }, body: br })
    const otlp = await raw("/v1/traces", { headers: { ...headers, "content-encoding": "gzip" }, body: gzipSync(Buffer.alloc(10 * LIMIT, 0x20)) })
    expect([gzipped.status, brotli.status, otlp.status]).toEqual([413, 413, 413])
    expect(((await gzipped.json()) as { message: string }).message).toMatch(/decompression/)
    expect(Date.now() - started).toBeLessThan(5000)
    // A small compressed body is still welcome.
    const fine = await raw("/api/metrics", { headers: { ...headers, "content-encoding": "gzip" }, body: gzipSync(JSON.stringify(onePoint)) })
    expect(fine.status).toBe(202)
  })
})

describe("415: unsupported encodings", () => {
  it("refuses an unknown content-encoding", async () => {
    const t = await app.tenant()
    const res = await raw("/api/metrics", { headers: { authorization: `Bearer ${t.key}`, "content-type": "application/json", "content-encoding": "zstd" }, body: JSON.stringify(onePoint) })
    expect(res.status).toBe(415)
  })
})

describe("429: per-tenant quotas", () => {
  const retryAfter = (r: Response) => Number(r.headers.get("retry-after"))

  it("refuses requests over requestsPerSecond with Retry-After, while another tenant goes on unhindered", async () => {
    const noisy = await app.tenant(["ingest", "query"], { quotas: { requestsPerSecond: 3 } })
    const quiet = await app.tenant(["ingest", "query"], { quotas: { requestsPerSecond: 3 } })
    const flood = Array.from({ length: 60 }, (_, i) =>
      i % 2 === 0
        ? call(app, noisy.key, "POST", "/api/metrics", onePoint)
        : raw("/api/metrics", { headers: { "x-api-key": noisy.key, "content-type": "application/json" }, body: JSON.stringify(onePoint) }))
    const quietRes = await Promise.all([1, 2, 3].map(() => call(app, quiet.key, "POST", "/api/metrics", onePoint)))
    const noisyRes = await Promise.all(flood)

    // The quiet tenant's own quota is untouched by the flood (how fast it is served next to a loud
    // tenant is the noisy-neighbour benchmark's figure, not a timed test's).
    expect(quietRes.map((r) => r.status)).toEqual([202, 202, 202])
    const statuses = noisyRes.map((r) => r.status)
    expect(statuses.every((s) => s === 202 || s === 429)).toBe(true)
    // The flood spans at most a few one-second windows of 3 requests each.
    expect(statuses.filter((s) => s === 202).length).toBeLessThanOrEqual(9)
    const refused = noisyRes.filter((r) => r.status === 429)
    expect(refused.length).toBeGreaterThanOrEqual(51)
    for (const r of refused) expect(retryAfter(r)).toBeGreaterThanOrEqual(1)
    expect(((await refused[0]!.json()) as { message: string }).message).toMatch(/requests per second/)
  })

  it("refuses a batch over pointsPerSecond with Retry-After and stores none of it", async () => {
    const t = await app.tenant(["ingest"], { quotas: { pointsPerSecond: 100 } })
    const batch = { points: Array.from({ length: 101 }, (_, i) => ({ name: "p", value: i })) }
    const res = await call(app, t.key, "POST", "/api/metrics", batch)
    expect(res.status).toBe(429)
    expect(retryAfter(res)).toBeGreaterThanOrEqual(1)
    expect(((await res.json()) as { message: string }).message).toMatch(/points per second/)
    // A batch within the quota passes (the refused one was not counted).
    const ok = await call(app, t.key, "POST", "/api/metrics", { points: batch.points.slice(0, 100) })
    expect(ok.status).toBe(202)
    const rows = await eventually(async () => ((await pointCount(t.id)) === 100 ? true : undefined))
    expect(rows).toBe(true)
  })

  it("refuses unread, for the rest of that second, bodies no smaller than one refused for points", async () => {
    // A tenant far over its quota must not make the API parse every body it then refuses. Shown with
    // bodies that are not JSON: read, they answer 400; refused before they are read, 429.
    const t = await app.tenant(["ingest"], { quotas: { pointsPerSecond: 100 } })
    const headers = { authorization: `Bearer ${t.key}`, "content-type": "application/json" }
    const over = JSON.stringify({ points: Array.from({ length: 101 }, (_, i) => ({ name: "p", value: i })) })
    for (let attempt = 0; ; attempt++) {
      // All three requests within one quota second (the windows are wall-clock seconds).
      while (Date.now() % 1000 > 300) await new Promise((r) => setTimeout(r, 20))
      const second = Math.floor(Date.now() / 1000)
      const refused = await raw("/api/metrics", { headers, body: over })
      const large = await raw("/api/metrics", { headers, body: "x".repeat(over.length + 10) })
      const small = await raw("/api/metrics", { headers, body: "x".repeat(20) })
      if (Math.floor(Date.now() / 1000) !== second && attempt < 5) continue
      expect(refused.status).toBe(429)
      expect(large.status).toBe(429)
      expect(Number(large.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
      expect(((await large.json()) as { message: string }).message).toMatch(/points per second/)
      // A smaller body may fit: it is read (and this one is not JSON).
      expect(small.status).toBe(400)
      break
    }
  })
})
