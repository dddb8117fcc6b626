import fc from "fast-check"
import { hostileValue, jsonBody, metricsModel, mutateBytes, nastyNumber, nastyString, protobufBody, traceModel } from "./inputs.ts"
import { metricsJson, metricsPb, traceJson, tracePb } from "./otlpEncode.ts"

// Generated requests for every endpoint that takes a body (and the read endpoints' query strings),
// sent to the real HTTP server: any answer is fine but a 5xx.

export interface HttpCase {
  readonly method: "GET" | "POST" | "PUT" | "PATCH"
  readonly path: string
  readonly auth: "tenant" | "admin"
  readonly contentType?: string
  readonly body?: string | Uint8Array
}

/** What the requests refer to: an execution of the fuzzed tenant, a tenant whose settings and keys are fuzzed. */
export interface Targets {
  readonly traceId: string
  readonly victim: string
}

const nowish = fc.integer({ min: -3_600_000, max: 300_000 }).map((d) => Date.now() + d)
const time = fc.oneof({ arbitrary: nowish, weight: 4 }, { arbitrary: nowish.map((t) => new Date(t).toISOString()), weight: 2 }, nastyNumber, nastyString)
const name = fc.oneof({ arbitrary: fc.constantFrom("cpuUsagePercent", "responseTimeMs", "queueDepth"), weight: 3 }, { arbitrary: nastyString, weight: 2 })
const hex = (bytes: number) => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString("hex"))
const attrs = fc.dictionary(nastyString, fc.oneof(nastyString, nastyNumber, fc.boolean()), { maxKeys: 4 })
const jsonish = fc.jsonValue({ maxDepth: 3 })

const metricsRequest = fc.record({
  points: fc.array(fc.record({
    name, value: nastyNumber, time: fc.option(time, { nil: undefined }), serviceName: fc.option(name, { nil: undefined }),
    traceId: fc.option(hex(16), { nil: undefined }), attributes: fc.option(attrs, { nil: undefined })
  }, { requiredKeys: ["name", "value"] }), { minLength: 1, maxLength: 5 })
})

const startRequest = fc.record({
  operationName: name, serviceName: name, context: fc.record({ contextId: nastyString, userId: nastyString }),
  tags: fc.oneof(fc.array(nastyString, { maxLength: 3 }), fc.dictionary(nastyString, nastyString, { maxKeys: 3 })),
  metadata: fc.dictionary(nastyString, jsonish, { maxKeys: 3 }), samplingRate: nastyNumber, traceFlags: fc.integer({ min: -1, max: 256 }),
  traceId: hex(16), parentSpanId: hex(8), traceparent: nastyString
}, { requiredKeys: ["operationName", "serviceName", "context"] })

const updateRequest = fc.record({
  progressPercentage: nastyNumber, currentOperation: nastyString, status: fc.constantFrom("active", "paused", "completed"),
  metrics: fc.dictionary(name, nastyNumber, { maxKeys: 3 }),
  events: fc.array(fc.record({ eventName: name, eventType: nastyString, timestamp: time, metadata: fc.dictionary(nastyString, jsonish, { maxKeys: 2 }) }), { maxLength: 3 }),
  customAttributes: fc.dictionary(nastyString, jsonish, { maxKeys: 3 })
}, { requiredKeys: [] })

const finishRequest = fc.record({
  success: fc.boolean(), errorMessage: nastyString, durationMs: nastyNumber, performanceScore: nastyNumber,
  finalMetrics: fc.dictionary(name, nastyNumber, { maxKeys: 3 }), errors: fc.array(jsonish, { maxLength: 2 }), warnings: fc.array(jsonish, { maxLength: 2 })
}, { requiredKeys: ["success"] })

const jobRequest = fc.oneof(
  metricsRequest.map((payload) => ({ kind: "metrics", payload })),
  traceModel.map((m) => ({ kind: "otlp-traces", payload: traceJson(m) })),
  metricsModel.map((m) => ({ kind: "otlp-metrics", payload: metricsJson(m) }))
)

const settingsDocument = fc.record({
  windows: fc.record({ sizeSeconds: nastyNumber, allowedLatenessSeconds: nastyNumber, idleTimeoutSeconds: nastyNumber }, { requiredKeys: [] }),
  detector: fc.record({ enabled: fc.boolean(), alpha: nastyNumber, warmupWindows: nastyNumber, zWarning: nastyNumber, zCritical: nastyNumber }, { requiredKeys: [] }),
  thresholds: fc.dictionary(nastyString, fc.record({ warning: nastyNumber, critical: nastyNumber }), { maxKeys: 2 }),
  quotas: fc.record({ requestsPerSecond: nastyNumber, pointsPerSecond: nastyNumber }, { requiredKeys: [] }),
  traceTimeoutSeconds: nastyNumber
}, { requiredKeys: [] })

const asJson = (v: unknown) => JSON.stringify(v) ?? "null"
/** A path segment: a URL cannot carry an unpaired surrogate, so it becomes U+FFFD first. */
const segment = (s: string) => encodeURIComponent((s as unknown as { toWellFormed(): string }).toWellFormed())

/** A JSON endpoint's body: its document (mutated or not) as JSON text, sometimes damaged text. */
const jsonText = (doc: fc.Arbitrary<unknown>) => fc.oneof(
  { arbitrary: jsonBody(doc).map(asJson), weight: 9 },
  { arbitrary: fc.tuple(doc, fc.nat()).map(([d, at]) => Buffer.from(mutateBytes(Buffer.from(asJson(d)), [{ op: "truncate", at: at + 1 }])).toString("utf8")), weight: 1 }
)

const param = fc.oneof(
  { arbitrary: fc.constantFrom("now", "now-1h", "now-7d", "now-30d", "raw", "auto", "1m", "10s", "1h", "p95", "avg", "service", "failed", "critical", "open", "0", "-1", "1001", "abc"), weight: 3 },
  { arbitrary: nastyString, weight: 2 },
  { arbitrary: nastyNumber.map(String), weight: 1 }
)
const query = (keys: ReadonlyArray<string>) =>
  fc.dictionary(fc.constantFrom(...keys), param, { maxKeys: keys.length }).map((d) => new URLSearchParams(d).toString())

const reads = (t: Targets): fc.Arbitrary<HttpCase> => fc.oneof(
  query(["name", "from", "to", "bucket", "agg", "groupBy", "service", "source"]).map((q) => `/api/metrics/series?${q}`),
  query(["from", "to"]).map((q) => `/api/services?${q}`),
  query(["service", "operation", "status", "minDurationMs", "maxDurationMs", "from", "to", "limit", "cursor", "attr.team"]).map((q) => `/api/executions?${q}`),
  query(["from", "to", "severity", "metric", "service", "limit"]).map((q) => `/api/anomalies?${q}`),
  query(["state", "limit"]).map((q) => `/api/alerts?${q}`),
  query(["state", "limit"]).map((q) => `/api/jobs?${q}`),
  fc.constantFrom(`/api/executions/${t.traceId}`, "/api/executions/00000000000000000000000000000000"),
  nastyString.map((s) => `/api/jobs/${segment(s)}`)
).map((path) => ({ method: "GET" as const, path, auth: "tenant" as const }))

export const httpCase = (t: Targets): fc.Arbitrary<HttpCase> => {
  const json = (method: HttpCase["method"], path: string, doc: fc.Arbitrary<unknown>, auth: HttpCase["auth"] = "tenant") =>
    jsonText(doc).map((body): HttpCase => ({ method, path, auth, contentType: "application/json", body }))
  return fc.oneof(
    json("POST", "/api/metrics", metricsRequest),
    json("POST", "/api/executions", startRequest),
    json("PATCH", `/api/executions/${t.traceId}`, updateRequest),
    json("POST", `/api/executions/${t.traceId}/finish`, finishRequest),
    json("POST", "/api/jobs", jobRequest),
    json("POST", "/v1/traces", traceModel.map(traceJson)),
    json("POST", "/v1/metrics", metricsModel.map(metricsJson)),
    protobufBody(traceModel.map(tracePb)).map((body): HttpCase => ({ method: "POST", path: "/v1/traces", auth: "tenant", contentType: "application/x-protobuf", body })),
    protobufBody(metricsModel.map(metricsPb)).map((body): HttpCase => ({ method: "POST", path: "/v1/metrics", auth: "tenant", contentType: "application/x-protobuf", body })),
    json("POST", "/api/admin/tenants", fc.record({ id: fc.oneof(hex(6).map((h) => `fz${h}`), nastyString), name: nastyString, settings: hostileValue }, { requiredKeys: ["id"] }), "admin"),
    json("PUT", `/api/admin/tenants/${t.victim}/settings`, settingsDocument, "admin"),
    json("POST", `/api/admin/tenants/${t.victim}/keys`, fc.record({ scopes: fc.array(fc.oneof(fc.constantFrom("ingest", "query"), nastyString), { maxLength: 3 }), name: nastyString }), "admin"),
    nastyString.map((s): HttpCase => ({ method: "POST", path: `/api/jobs/${segment(s)}/retry`, auth: "tenant" })),
    nastyString.map((s): HttpCase => ({ method: "POST", path: `/api/alerts/${segment(s)}/ack`, auth: "tenant" })),
    reads(t),
    reads(t)
  )
}

/** Sends one case; the status, or 599 when the connection failed (a crash of the server counts as a 5xx). */
export const send = async (baseUrl: string, keys: { readonly tenant: string; readonly admin: string }, c: HttpCase): Promise<number> => {
  try {
    const res = await fetch(`${baseUrl}${c.path}`, {
      method: c.method,
      headers: { authorization: `Bearer ${keys[c.auth]}`, ...(c.contentType === undefined ? {} : { "content-type": c.contentType }) },
      ...(c.body === undefined ? {} : { body: c.body })
    })
    await res.arrayBuffer()
    return res.status
  } catch {
    return 599
  }
}
