import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiMiddleware, HttpApiSchema, HttpApiSecurity, OpenApi } from "@effect/platform"
import { Context, Schema } from "effect"
import { BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, ServiceUnavailable, TooManyRequests, Unauthorized, UnsupportedMediaType } from "../domain/errors.ts"
import { ExecutionId, Scope } from "../domain/ids.ts"
import { Accepted, ExecutionResult, ExecutionUpdate, JobAccepted, JobRequest, JobStatus, MetricsRequest, StartExecutionRequest, StartExecutionResponse } from "../domain/ingest.ts"
import { TenantSettings } from "../domain/settings.ts"
import { CreatedKey, Health, Readiness, TenantView } from "../domain/views.ts"
import { AlertParams, AnomalyParams, FailedJobsParams, GenaiUsageParams, GraphParams, MetricNamesParams, MetricWindowsParams, SearchParams, SeriesParams, ServicesParams, TimelineParams } from "../domain/queryParams.ts"
import { AlertDetailView, ChannelTestResult, IngestRateView, KeyList, MetricNamesView, MetricWindowsView, ServiceGraphView, ServicesTimelineView, TenantList } from "../domain/consoleViews.ts"
import { AgentGraphView, GenaiUsageView } from "../domain/genaiViews.ts"
import { AlertList, AlertView, AnomalyList, ExecutionDetailView, ExecutionPage, SeriesView, ServicesView } from "../domain/queryViews.ts"
import type { Principal } from "../tenants/TenantStore.ts"

export class CurrentPrincipal extends Context.Tag("api/CurrentPrincipal")<CurrentPrincipal, Principal>() {}

/** A tenant's API key, as `Authorization: Bearer <key>` or `x-api-key: <key>`. */
export class TenantAuth extends HttpApiMiddleware.Tag<TenantAuth>()("api/TenantAuth", {
  failure: Schema.Union(Unauthorized, TooManyRequests, ServiceUnavailable),
  provides: CurrentPrincipal,
  security: {
    bearer: HttpApiSecurity.bearer,
    apiKey: HttpApiSecurity.apiKey({ in: "header", key: "x-api-key" })
  }
}) {}

/** The operator's `MPLP_ADMIN_TOKEN`, as a bearer token. */
export class AdminAuth extends HttpApiMiddleware.Tag<AdminAuth>()("api/AdminAuth", {
  failure: Schema.Union(Unauthorized, TooManyRequests),
  security: { bearer: HttpApiSecurity.bearer }
}) {}

const IdempotencyHeaders = Schema.Struct({
  "idempotency-key": Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)).annotations({ message: () => "Idempotency-Key must be 1-200 characters" }))
})
const ExecutionIdPath = Schema.Struct({ executionId: ExecutionId })
const StartHeaders = Schema.Struct({ ...IdempotencyHeaders.fields, traceparent: Schema.optional(Schema.String) })
const TenantPath = Schema.Struct({ id: Schema.String })
export const CreateTenantRequest = Schema.Struct({ id: Schema.String, name: Schema.optional(Schema.String), settings: Schema.optional(Schema.Unknown) })
export const CreateKeyRequest = Schema.Struct({ scopes: Schema.Array(Scope).pipe(Schema.minItems(1)), name: Schema.optional(Schema.String) })

export class HealthApi extends HttpApiGroup.make("health")
  .add(HttpApiEndpoint.get("healthz", "/healthz").addSuccess(Health))
  .add(HttpApiEndpoint.get("readyz", "/readyz").addSuccess(Readiness).addError(Readiness, { status: 503 }))
  .add(HttpApiEndpoint.get("metrics", "/metrics").addSuccess(HttpApiSchema.Text({ contentType: "text/plain; version=0.0.4" })).addError(Unauthorized).addError(TooManyRequests))
  .annotate(OpenApi.Description, "Liveness, readiness and the service's own metrics (Prometheus text)") {}

export class AdminApi extends HttpApiGroup.make("admin")
  .add(
    HttpApiEndpoint.post("createTenant", "/api/admin/tenants")
      .setPayload(CreateTenantRequest)
      .addSuccess(TenantView, { status: 201 })
      .addError(Conflict)
  )
  .add(HttpApiEndpoint.get("listTenants", "/api/admin/tenants").addSuccess(TenantList))
  .add(HttpApiEndpoint.get("getTenant", "/api/admin/tenants/:id").setPath(TenantPath).addSuccess(TenantView).addError(NotFound))
  .add(HttpApiEndpoint.get("listKeys", "/api/admin/tenants/:id/keys").setPath(TenantPath).addSuccess(KeyList).addError(NotFound))
  .add(
    HttpApiEndpoint.post("createKey", "/api/admin/tenants/:id/keys")
      .setPath(TenantPath)
      .setPayload(CreateKeyRequest)
      .addSuccess(CreatedKey, { status: 201 })
      .addError(NotFound)
  )
  .add(
    HttpApiEndpoint.del("revokeKey", "/api/admin/keys/:keyId")
      .setPath(Schema.Struct({ keyId: Schema.String }))
      .addSuccess(HttpApiSchema.NoContent)
      .addError(NotFound)
  )
  .add(HttpApiEndpoint.get("getSettings", "/api/admin/tenants/:id/settings").setPath(TenantPath).addSuccess(TenantSettings).addError(NotFound))
  .add(
    HttpApiEndpoint.put("putSettings", "/api/admin/tenants/:id/settings")
      .setPath(TenantPath)
      .setPayload(Schema.Unknown.annotations({ description: "A tenant settings document; fields left out take the defaults" }))
      .addSuccess(TenantSettings)
      .addError(NotFound)
  )
  .add(
    HttpApiEndpoint.post("testChannel", "/api/admin/tenants/:id/channels/:channelId/test")
      .setPath(Schema.Struct({ id: Schema.String, channelId: Schema.String }))
      .addSuccess(ChannelTestResult)
      .addError(NotFound)
      .annotate(OpenApi.Description, "Sends a test notification to one channel through the real delivery path and answers with the attempt")
  )
  .addError(BadRequest)
  .middleware(AdminAuth)
  .annotate(OpenApi.Description, "Operator endpoints, guarded by MPLP_ADMIN_TOKEN") {}

export class ExecutionsApi extends HttpApiGroup.make("executions")
  .add(
    HttpApiEndpoint.post("start", "/api/executions")
      .setPayload(StartExecutionRequest)
      .setHeaders(StartHeaders)
      .addSuccess(StartExecutionResponse, { status: 201 })
  )
  .add(
    HttpApiEndpoint.patch("update", "/api/executions/:executionId")
      .setPath(ExecutionIdPath)
      .setPayload(ExecutionUpdate)
      .setHeaders(IdempotencyHeaders)
      .addSuccess(JobAccepted, { status: 202 })
  )
  .add(
    HttpApiEndpoint.post("finish", "/api/executions/:executionId/finish")
      .setPath(ExecutionIdPath)
      .setPayload(ExecutionResult)
      .setHeaders(IdempotencyHeaders)
      .addSuccess(JobAccepted, { status: 202 })
  )
  .add(HttpApiEndpoint.get("get", "/api/executions/:executionId").setPath(ExecutionIdPath).addSuccess(ExecutionDetailView))
  .addError(NotFound)
  .addError(Conflict)
  .addError(Forbidden) {}

const LiveHeaders = Schema.Struct({ "last-event-id": Schema.optional(Schema.String) })

export class LiveApi extends HttpApiGroup.make("live")
  .add(
    HttpApiEndpoint.get("live", "/api/executions/live")
      .setHeaders(LiveHeaders)
      .addSuccess(HttpApiSchema.Text({ contentType: "text/event-stream" }))
  )
  .addError(Forbidden)
  .annotate(
    OpenApi.Description,
    "Server-Sent Events: the tenant's running executions' changes as they happen (event: start | update | finish | timeout, data: LiveChange JSON); Last-Event-ID resumes after an event (scope: query)"
  ) {}

export class MetricsApi extends HttpApiGroup.make("metrics")
  .add(
    HttpApiEndpoint.post("ingest", "/api/metrics")
      .setPayload(MetricsRequest)
      .setHeaders(IdempotencyHeaders)
      .addSuccess(Accepted, { status: 202 })
  )
  .addError(Forbidden) {}

const OtlpResponse = Schema.Struct({
  partialSuccess: Schema.optional(Schema.Struct({
    rejectedSpans: Schema.optional(Schema.Number),
    rejectedDataPoints: Schema.optional(Schema.Number),
    errorMessage: Schema.optional(Schema.String)
  }))
}).annotations({ identifier: "OtlpExportResponse" })

export class OtlpApi extends HttpApiGroup.make("otlp")
  .add(HttpApiEndpoint.post("traces", "/v1/traces").addSuccess(OtlpResponse))
  .add(HttpApiEndpoint.post("metrics", "/v1/metrics").addSuccess(OtlpResponse))
  .addError(Forbidden)
  .annotate(OpenApi.Description, "OTLP/HTTP receiver: application/x-protobuf or application/json, optionally gzip") {}

export class JobsApi extends HttpApiGroup.make("jobs")
  .add(
    HttpApiEndpoint.post("submit", "/api/jobs")
      .setPayload(JobRequest)
      .setHeaders(IdempotencyHeaders)
      .addSuccess(JobAccepted, { status: 202 })
  )
  .add(HttpApiEndpoint.get("get", "/api/jobs/:jobId").setPath(Schema.Struct({ jobId: Schema.String })).addSuccess(JobStatus))
  .add(
    HttpApiEndpoint.get("listFailed", "/api/jobs")
      .setUrlParams(FailedJobsParams)
      .addSuccess(Schema.Struct({ jobs: Schema.Array(JobStatus) }))
  )
  .add(
    HttpApiEndpoint.post("retry", "/api/jobs/:jobId/retry")
      .setPath(Schema.Struct({ jobId: Schema.String }))
      .addSuccess(JobStatus, { status: 202 })
      .annotate(OpenApi.Description, "Runs a dead-lettered job again with a fresh retry budget (404 another tenant's or unknown job, 409 a job that is not failed)")
  )
  .addError(NotFound)
  .addError(Conflict)
  .addError(Forbidden) {}

export class QueryApi extends HttpApiGroup.make("query")
  .add(HttpApiEndpoint.get("series", "/api/metrics/series").setUrlParams(SeriesParams).addSuccess(SeriesView))
  .add(HttpApiEndpoint.get("services", "/api/services").setUrlParams(ServicesParams).addSuccess(ServicesView))
  .add(HttpApiEndpoint.get("search", "/api/executions").setUrlParams(SearchParams).addSuccess(ExecutionPage))
  .add(HttpApiEndpoint.get("anomalies", "/api/anomalies").setUrlParams(AnomalyParams).addSuccess(AnomalyList))
  .add(HttpApiEndpoint.get("metricNames", "/api/metrics/names").setUrlParams(MetricNamesParams).addSuccess(MetricNamesView))
  .add(HttpApiEndpoint.get("metricWindows", "/api/metrics/windows").setUrlParams(MetricWindowsParams).addSuccess(MetricWindowsView))
  .add(HttpApiEndpoint.get("serviceGraph", "/api/services/graph").setUrlParams(GraphParams).addSuccess(ServiceGraphView))
  .add(HttpApiEndpoint.get("servicesTimeline", "/api/services/timeline").setUrlParams(TimelineParams).addSuccess(ServicesTimelineView))
  .add(HttpApiEndpoint.get("ingestRate", "/api/ingest/rate").setUrlParams(TimelineParams).addSuccess(IngestRateView))
  .addError(Forbidden)
  .annotate(OpenApi.Description, "Metric series, RED per service, execution search and anomalies (scope: query)") {}

export class AlertsApi extends HttpApiGroup.make("alerts")
  .add(HttpApiEndpoint.get("list", "/api/alerts").setUrlParams(AlertParams).addSuccess(AlertList))
  .add(HttpApiEndpoint.get("get", "/api/alerts/:id").setPath(Schema.Struct({ id: Schema.String })).addSuccess(AlertDetailView))
  .add(HttpApiEndpoint.post("ack", "/api/alerts/:id/ack").setPath(Schema.Struct({ id: Schema.String })).addSuccess(AlertView))
  .addError(NotFound)
  .addError(Conflict)
  .addError(Forbidden)
  .annotate(OpenApi.Description, "Alerts (scope: query) and their acknowledgement (scope: alerts)") {}

export class GenaiApi extends HttpApiGroup.make("genai")
  .add(HttpApiEndpoint.get("usage", "/api/genai/usage").setUrlParams(GenaiUsageParams).addSuccess(GenaiUsageView))
  .add(HttpApiEndpoint.get("graph", "/api/genai/graph").setUrlParams(GraphParams).addSuccess(AgentGraphView))
  .addError(Forbidden)
  .annotate(OpenApi.Description, "Tokens, cost and calls per model, agent, tool, service, user or conversation; the agent graph (scope: query)") {}

export class MplpApi extends HttpApi.make("mplp-trace")
  .add(HealthApi)
  .add(AdminApi)
  .add(LiveApi.middleware(TenantAuth))
  .add(ExecutionsApi.middleware(TenantAuth))
  .add(MetricsApi.middleware(TenantAuth))
  .add(OtlpApi.middleware(TenantAuth))
  .add(JobsApi.middleware(TenantAuth))
  .add(QueryApi.middleware(TenantAuth))
  .add(AlertsApi.middleware(TenantAuth))
  .add(GenaiApi.middleware(TenantAuth))
  .addError(BadRequest)
  .addError(PayloadTooLarge)
  .addError(UnsupportedMediaType)
  .addError(TooManyRequests)
  .addError(ServiceUnavailable)
  .annotate(OpenApi.Title, "MPLP Trace")
  .annotate(OpenApi.Description, "Multi-tenant execution tracing and performance monitoring") {}
