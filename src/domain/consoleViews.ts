import { Schema } from "effect"
import { AlertView, AnomalyView } from "./queryViews.ts"
import { TenantView } from "./views.ts"

// What the read endpoints added for the console return: metric names, detector windows (the expected
// band), the service graph, RED and ingest timelines, an alert's whole story, and the admin lists.

const Json = Schema.Record({ key: Schema.String, value: Schema.Unknown })
const NullableNumber = Schema.NullOr(Schema.Number)
const Time = Schema.String.annotations({ description: "ISO-8601 UTC" })

export const MetricNamesView = Schema.Struct({
  from: Time,
  to: Time,
  metrics: Schema.Array(Schema.Struct({
    name: Schema.String,
    /** Services that sent the metric in the range ("" = no service). */
    services: Schema.Array(Schema.String),
    lastSeen: Schema.NullOr(Time),
    /** Raw points in the range (0 for a series known only from its windows, e.g. span-derived). */
    points: Schema.Number,
    /** The detector has windows for this metric: /api/metrics/windows can draw its expected band. */
    windowed: Schema.Boolean
  }))
}).annotations({ identifier: "MetricNames" })
export type MetricNamesView = typeof MetricNamesView.Type

export const WindowPointView = Schema.Struct({
  start: Time,
  end: Time,
  count: Schema.Number,
  mean: Schema.Number,
  min: Schema.Number,
  max: Schema.Number,
  p95: NullableNumber,
  /** The detector's EWMA level before this window (null while warming up or not yet evaluated). */
  expected: NullableNumber,
  /** The detector's standard deviation before this window. */
  sd: NullableNumber,
  z: NullableNumber,
  /** The worst anomaly (EWMA/z or threshold) recorded for this window. */
  severity: Schema.NullOr(Schema.Literal("warning", "critical"))
})
export type WindowPointView = typeof WindowPointView.Type

export const MetricWindowsView = Schema.Struct({
  name: Schema.String,
  from: Time,
  to: Time,
  /** The tenant's detector settings now: the band is expected ± zWarning · sd. */
  zWarning: Schema.Number,
  zCritical: Schema.Number,
  truncated: Schema.Boolean,
  series: Schema.Array(Schema.Struct({
    seriesKey: Schema.String,
    service: Schema.String,
    operation: Schema.String,
    windows: Schema.Array(WindowPointView)
  }))
}).annotations({ identifier: "MetricWindows" })
export type MetricWindowsView = typeof MetricWindowsView.Type

const EdgeStats = {
  calls: Schema.Number,
  errors: Schema.Number,
  errorRate: Schema.Number,
  p95Ms: NullableNumber
}

export const ServiceGraphView = Schema.Struct({
  from: Time,
  to: Time,
  nodes: Schema.Array(Schema.Struct({ service: Schema.String, requests: Schema.Number, errors: Schema.Number, errorRate: Schema.Number, p95Ms: NullableNumber })),
  /** A call: a span of `source` that is the parent of a span of `target` (target ≠ source). */
  edges: Schema.Array(Schema.Struct({ source: Schema.String, target: Schema.String, ...EdgeStats })),
  truncated: Schema.Boolean
}).annotations({ identifier: "ServiceGraph" })
export type ServiceGraphView = typeof ServiceGraphView.Type

export const ServicesTimelineView = Schema.Struct({
  from: Time,
  to: Time,
  bucketSeconds: Schema.Number,
  /** One series per service (operation null) and per service and operation. */
  series: Schema.Array(Schema.Struct({
    service: Schema.String,
    operation: Schema.NullOr(Schema.String),
    points: Schema.Array(Schema.Struct({ time: Time, requests: Schema.Number, errors: Schema.Number, p95Ms: NullableNumber }))
  }))
}).annotations({ identifier: "ServicesTimeline" })
export type ServicesTimelineView = typeof ServicesTimelineView.Type

export const IngestRateView = Schema.Struct({
  from: Time,
  to: Time,
  bucketSeconds: Schema.Number,
  /** Stored metric points and spans per bucket. */
  points: Schema.Array(Schema.Struct({ time: Time, metricPoints: Schema.Number, spans: Schema.Number }))
}).annotations({ identifier: "IngestRate" })
export type IngestRateView = typeof IngestRateView.Type

export const NotificationView = Schema.Struct({
  messageId: Schema.String,
  eventType: Schema.String,
  createdAt: Time,
  dispatchedAt: Schema.NullOr(Time),
  payload: Json
})

export const DeliveryView = Schema.Struct({
  channelId: Schema.String,
  messageId: Schema.String,
  eventType: Schema.String,
  attempt: Schema.Number,
  outcome: Schema.String,
  statusCode: NullableNumber,
  error: Schema.NullOr(Schema.String),
  durationMs: NullableNumber,
  attemptedAt: Time
})

export const AlertDetailView = Schema.Struct({
  alert: AlertView,
  /** The alerted series (null for event alerts such as execution_timeout). */
  series: Schema.NullOr(Schema.Struct({ metricName: Schema.String, serviceName: Schema.String, operation: Schema.String })),
  notifications: Schema.Array(NotificationView),
  deliveries: Schema.Array(DeliveryView),
  /** The series' anomalies from an hour before the alert opened to its resolution (or now). */
  anomalies: Schema.Array(AnomalyView)
}).annotations({ identifier: "AlertDetail" })
export type AlertDetailView = typeof AlertDetailView.Type

export const TenantList = Schema.Struct({ tenants: Schema.Array(TenantView) }).annotations({ identifier: "TenantList" })

export const KeyView = Schema.Struct({
  keyId: Schema.String,
  name: Schema.NullOr(Schema.String),
  scopes: Schema.Array(Schema.String),
  createdAt: Time,
  revokedAt: Schema.NullOr(Time)
}).annotations({ identifier: "ApiKey" })
export const KeyList = Schema.Struct({ keys: Schema.Array(KeyView) }).annotations({ identifier: "KeyList" })

export const ChannelTestResult = Schema.Struct({
  channelId: Schema.String,
  type: Schema.String,
  outcome: Schema.Literal("delivered", "retrying", "failed", "gone", "refused"),
  statusCode: NullableNumber,
  error: Schema.NullOr(Schema.String),
  durationMs: NullableNumber,
  attemptedAt: Time
}).annotations({ identifier: "ChannelTestResult" })
export type ChannelTestResult = typeof ChannelTestResult.Type
