import type { BadRequest } from "../../../src/domain/errors.ts"
import type { Scope } from "../../../src/domain/ids.ts"
import type { AlertDetailView, ChannelTestResult, IngestRateView, KeyList, MetricNamesView, MetricWindowsView, ServiceGraphView, ServicesTimelineView, TenantList } from "../../../src/domain/consoleViews.ts"
import type { AgentGraphView, GenaiUsageView } from "../../../src/domain/genaiViews.ts"
import type { JobStatus } from "../../../src/domain/ingest.ts"
import type { AlertParams, AnomalyParams, GenaiUsageParams, GraphParams, MetricNamesParams, MetricWindowsParams, SearchParams, SeriesParams, ServicesParams, TimelineParams } from "../../../src/domain/queryParams.ts"
import type { AlertList, AlertView, AnomalyList, ExecutionDetailView, ExecutionPage, SeriesView, ServicesView } from "../../../src/domain/queryViews.ts"
import type { TenantSettings } from "../../../src/domain/settings.ts"
import type { CreatedKey, TenantView } from "../../../src/domain/views.ts"
import { session } from "./session.ts"
import { serviceStatus } from "./status.ts"

// The one client of the API: every request and response type is the server's own Schema type.

export type Services = typeof ServicesView.Type
export type Timeline = typeof ServicesTimelineView.Type
export type IngestRate = typeof IngestRateView.Type
export type Page = typeof ExecutionPage.Type
export type ExecutionSummary = Page["executions"][number]
export type ExecutionDetail = typeof ExecutionDetailView.Type
export type Anomalies = typeof AnomalyList.Type
export type Anomaly = Anomalies["anomalies"][number]
export type Alerts = typeof AlertList.Type
export type Alert = typeof AlertView.Type
export type AlertDetail = typeof AlertDetailView.Type
export type MetricNames = typeof MetricNamesView.Type
export type MetricWindows = typeof MetricWindowsView.Type
export type Series = typeof SeriesView.Type
export type ServiceGraph = typeof ServiceGraphView.Type
export type Job = typeof JobStatus.Type
export type GenaiUsage = typeof GenaiUsageView.Type
export type AgentGraph = typeof AgentGraphView.Type
export type Tenant = typeof TenantView.Type
export type Tenants = typeof TenantList.Type
export type Keys = typeof KeyList.Type
export type NewKey = typeof CreatedKey.Type
export type Settings = typeof TenantSettings.Encoded
export type ChannelTest = typeof ChannelTestResult.Type

/** Search parameters, with `attr.KEY=VALUE` filters beside the named ones. */
export type Search = typeof SearchParams.Encoded & { readonly [attr: `attr.${string}`]: string | undefined }

/** A failed request: the status, the service's message, and for 429/503 when to retry. */
export class ApiError extends Error {
  readonly status: number
  readonly tag: string | null
  readonly retryAfterSeconds: number | null
  /** 400s: the offending fields (`issues[].path`, e.g. "detector.zWarning") as the API reports them. */
  readonly issues: NonNullable<(typeof BadRequest.Encoded)["issues"]>
  constructor(status: number, message: string, tag: string | null = null, retryAfterSeconds: number | null = null, issues: ApiError["issues"] = []) {
    super(message)
    this.status = status
    this.tag = tag
    this.retryAfterSeconds = retryAfterSeconds
    this.issues = issues
  }
  /** Worth retrying by itself: rate-limited, unavailable or unreachable. */
  get transient() {
    return this.status === 429 || this.status === 503 || this.status === 0
  }
}

type Query = Readonly<Record<string, string | number | undefined | null>>
type Auth = "tenant" | "admin" | "none"

const queryString = (q: Query | undefined) => {
  if (q === undefined) return ""
  const p = new URLSearchParams()
  for (const [k, v] of Object.entries(q)) if (v !== undefined && v !== null && v !== "") p.set(k, String(v))
  const s = p.toString()
  return s === "" ? "" : `?${s}`
}

const bodyOf = async (res: Response): Promise<unknown> => {
  if (res.status === 204) return undefined
  const text = await res.text()
  if (text === "") return undefined
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}

const field = (body: unknown, name: string): unknown => (typeof body === "object" && body !== null ? (body as Record<string, unknown>)[name] : undefined)

const request = async <A>(method: string, path: string, options: { readonly query?: Query; readonly body?: unknown; readonly auth?: Auth; readonly key?: string } = {}): Promise<A> => {
  const auth = options.auth ?? "tenant"
  const secret = options.key ?? (auth === "tenant" ? session.get().key : auth === "admin" ? session.get().adminToken : null)
  const headers: Record<string, string> = { accept: "application/json" }
  if (auth !== "none") {
    if (secret === null) throw new ApiError(401, auth === "admin" ? "the admin token is needed" : "not signed in")
    headers.authorization = `Bearer ${secret}`
  }
  if (options.body !== undefined) headers["content-type"] = "application/json"
  let res: Response
  try {
    res = await fetch(`${path}${queryString(options.query)}`, {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) })
    })
  } catch {
    const e = new ApiError(0, "the service cannot be reached")
    serviceStatus.report({ status: 0, message: e.message, retryAt: Date.now() + 2000 })
    throw e
  }
  const body = await bodyOf(res)
  if (res.ok) {
    serviceStatus.clear()
    return body as A
  }
  const message = typeof field(body, "message") === "string" ? String(field(body, "message")) : `${res.status} ${res.statusText}`
  const retryAfter = Number(res.headers.get("retry-after"))
  const issues = Array.isArray(field(body, "issues")) ? (field(body, "issues") as ApiError["issues"]) : []
  const error = new ApiError(res.status, message, typeof field(body, "_tag") === "string" ? String(field(body, "_tag")) : null, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null, issues)
  // A key given explicitly is being tried (the sign-in form): its refusal is the form's to show.
  if (res.status === 401 && options.key === undefined) {
    if (auth === "tenant") session.signOut(`The service refused the key: ${message}. Sign in again.`)
    if (auth === "admin") session.clearAdminToken(`The service refused the admin token: ${message}.`)
  }
  if (error.transient) serviceStatus.report({ status: res.status, message, retryAt: Date.now() + (error.retryAfterSeconds ?? 2) * 1000 })
  throw error
}

const get = <A>(path: string, query?: Query) => request<A>("GET", path, query === undefined ? {} : { query })
const enc = encodeURIComponent

export const api = {
  /** Checks a key before keeping it: a cheap read that needs the query scope. */
  tryKey: (key: string) => request<Services>("GET", "/api/services", { query: { from: "now-1m" }, key }),
  services: (q: typeof ServicesParams.Encoded) => get<Services>("/api/services", q),
  servicesTimeline: (q: typeof TimelineParams.Encoded) => get<Timeline>("/api/services/timeline", q),
  serviceGraph: (q: typeof GraphParams.Encoded) => get<ServiceGraph>("/api/services/graph", q),
  ingestRate: (q: typeof TimelineParams.Encoded) => get<IngestRate>("/api/ingest/rate", q),
  search: (q: Search) => get<Page>("/api/executions", q),
  execution: (id: string) => get<ExecutionDetail>(`/api/executions/${enc(id)}`),
  anomalies: (q: typeof AnomalyParams.Encoded) => get<Anomalies>("/api/anomalies", q),
  alerts: (q: typeof AlertParams.Encoded) => get<Alerts>("/api/alerts", q),
  alert: (id: string) => get<AlertDetail>(`/api/alerts/${enc(id)}`),
  ack: (id: string) => request<Alert>("POST", `/api/alerts/${enc(id)}/ack`),
  metricNames: (q: typeof MetricNamesParams.Encoded) => get<MetricNames>("/api/metrics/names", q),
  metricWindows: (q: typeof MetricWindowsParams.Encoded) => get<MetricWindows>("/api/metrics/windows", q),
  series: (q: typeof SeriesParams.Encoded) => get<Series>("/api/metrics/series", q),
  failedJobs: (limit?: number) => get<{ readonly jobs: ReadonlyArray<Job> }>("/api/jobs", { state: "failed", limit }),
  retryJob: (id: string) => request<Job>("POST", `/api/jobs/${enc(id)}/retry`),
  genaiUsage: (q: typeof GenaiUsageParams.Encoded) => get<GenaiUsage>("/api/genai/usage", q),
  genaiGraph: (q: typeof GraphParams.Encoded) => get<AgentGraph>("/api/genai/graph", q),
  admin: {
    tryToken: (token: string) => request<Tenants>("GET", "/api/admin/tenants", { auth: "admin", key: token }),
    tenants: () => request<Tenants>("GET", "/api/admin/tenants", { auth: "admin" }),
    tenant: (id: string) => request<Tenant>("GET", `/api/admin/tenants/${enc(id)}`, { auth: "admin" }),
    createTenant: (body: { readonly id: string; readonly name?: string }) => request<Tenant>("POST", "/api/admin/tenants", { auth: "admin", body }),
    keys: (id: string) => request<Keys>("GET", `/api/admin/tenants/${enc(id)}/keys`, { auth: "admin" }),
    createKey: (id: string, body: { readonly scopes: ReadonlyArray<Scope>; readonly name?: string }) =>
      request<NewKey>("POST", `/api/admin/tenants/${enc(id)}/keys`, { auth: "admin", body }),
    revokeKey: (keyId: string) => request<void>("DELETE", `/api/admin/keys/${enc(keyId)}`, { auth: "admin" }),
    settings: (id: string) => request<Settings>("GET", `/api/admin/tenants/${enc(id)}/settings`, { auth: "admin" }),
    putSettings: (id: string, settings: unknown) => request<Settings>("PUT", `/api/admin/tenants/${enc(id)}/settings`, { auth: "admin", body: settings }),
    testChannel: (id: string, channelId: string) => request<ChannelTest>("POST", `/api/admin/tenants/${enc(id)}/channels/${enc(channelId)}/test`, { auth: "admin" })
  }
} as const
