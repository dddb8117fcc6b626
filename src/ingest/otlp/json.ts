import { OtlpDecodeError } from "./errors.ts"
import {
  collect, countNested, digitsMs, digitsNs, enumValue, field, hexId, isObj, keyValues, list, nanos, obj, resource, scope, str, uint
} from "./jsonCommon.ts"
import type { Obj } from "./jsonCommon.ts"
import type { ExportTraceServiceRequest, Rejections, ResourceSpans, ScopeSpans, Span, SpanEvent, SpanLink, Status } from "./types.ts"

export { decodeJsonMetricsRequest } from "./jsonMetrics.ts"

const SPAN_KIND: Readonly<Record<string, number>> = {
  SPAN_KIND_UNSPECIFIED: 0, SPAN_KIND_INTERNAL: 1, SPAN_KIND_SERVER: 2, SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4, SPAN_KIND_CONSUMER: 5
}
const STATUS_CODE: Readonly<Record<string, number>> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 }
const SCOPE_SPANS = ["scopeSpans", "scope_spans"] as const
const SPANS = ["spans", "spans"] as const

/**
 * OTLP/JSON `ExportTraceServiceRequest` (already parsed) to the decoded shape. A body that is not
 * an object with a `resourceSpans` array throws OtlpDecodeError; a malformed span, scope or
 * resource is counted in `rej` and skipped, so the valid spans around it still get through.
 */
export const decodeJsonTraceRequest = (body: unknown, rej: Rejections): ExportTraceServiceRequest => {
  if (!isObj(body)) throw new OtlpDecodeError({ message: "OTLP/JSON trace request must be a JSON object" })
  const raw = field(body, "resourceSpans", "resource_spans")
  if (raw != null && !Array.isArray(raw)) throw new OtlpDecodeError({ message: "resourceSpans must be an array" })
  const resourceSpans = collect(raw ?? [], "resourceSpans", rej, (r) => countNested(r, [SCOPE_SPANS, SPANS]), (r, i) =>
    resourceSpansFrom(obj(r, "resourceSpans entry"), `resourceSpans[${i}]`, rej))
  return { resourceSpans }
}

// Container fields are read before the items are collected, so that a container rejected as a
// whole never counts an item that was already rejected on its own.
const resourceSpansFrom = (o: Obj, path: string, rej: Rejections): ResourceSpans => {
  const res = resource(o.resource)
  const schemaUrl = str(field(o, "schemaUrl", "schema_url"), "schemaUrl")
  const scopes = list(field(o, ...SCOPE_SPANS), "scopeSpans")
  return {
    resource: res,
    scopeSpans: collect(scopes, `${path}.scopeSpans`, rej, (s) => countNested(s, [SPANS]), (s, i) =>
      scopeSpansFrom(obj(s, "scopeSpans entry"), `${path}.scopeSpans[${i}]`, rej)),
    schemaUrl
  }
}

const scopeSpansFrom = (o: Obj, path: string, rej: Rejections): ScopeSpans => {
  const sc = scope(o.scope)
  const schemaUrl = str(field(o, "schemaUrl", "schema_url"), "schemaUrl")
  const spans = list(o.spans, "spans")
  return { scope: sc, spans: collect(spans, `${path}.spans`, rej, () => 1, spanFrom), schemaUrl }
}

const spanFrom = (v: unknown): Span => {
  const o = obj(v, "span")
  // Each timestamp's digits, read where the field stands, so that the first bad field is the one reported, as before.
  let t: string
  return {
    traceId: hexId(field(o, "traceId", "trace_id"), "traceId"),
    spanId: hexId(field(o, "spanId", "span_id"), "spanId"),
    traceState: str(field(o, "traceState", "trace_state"), "traceState"),
    parentSpanId: hexId(field(o, "parentSpanId", "parent_span_id"), "parentSpanId"),
    flags: uint(o.flags, "flags"),
    name: str(o.name, "name"),
    kind: enumValue(o.kind, SPAN_KIND, "kind"),
    startMs: digitsMs(t = nanos(field(o, "startTimeUnixNano", "start_time_unix_nano"), "startTimeUnixNano")), startNs: digitsNs(t),
    endMs: digitsMs(t = nanos(field(o, "endTimeUnixNano", "end_time_unix_nano"), "endTimeUnixNano")), endNs: digitsNs(t),
    attributes: keyValues(o.attributes),
    droppedAttributesCount: uint(field(o, "droppedAttributesCount", "dropped_attributes_count"), "droppedAttributesCount"),
    events: list(o.events, "events").map(eventFrom),
    droppedEventsCount: uint(field(o, "droppedEventsCount", "dropped_events_count"), "droppedEventsCount"),
    links: list(o.links, "links").map(linkFrom),
    droppedLinksCount: uint(field(o, "droppedLinksCount", "dropped_links_count"), "droppedLinksCount"),
    status: statusFrom(o.status)
  }
}

const eventFrom = (v: unknown): SpanEvent => {
  const o = obj(v, "event")
  const time = nanos(field(o, "timeUnixNano", "time_unix_nano"), "event.timeUnixNano")
  return {
    timeMs: digitsMs(time), timeNs: digitsNs(time),
    name: str(o.name, "event.name"),
    attributes: keyValues(o.attributes),
    droppedAttributesCount: uint(field(o, "droppedAttributesCount", "dropped_attributes_count"), "droppedAttributesCount")
  }
}

const linkFrom = (v: unknown): SpanLink => {
  const o = obj(v, "link")
  return {
    traceId: hexId(field(o, "traceId", "trace_id"), "link.traceId"),
    spanId: hexId(field(o, "spanId", "span_id"), "link.spanId"),
    traceState: str(field(o, "traceState", "trace_state"), "link.traceState"),
    attributes: keyValues(o.attributes),
    droppedAttributesCount: uint(field(o, "droppedAttributesCount", "dropped_attributes_count"), "droppedAttributesCount"),
    flags: uint(o.flags, "link.flags")
  }
}

const statusFrom = (v: unknown): Status => {
  if (v == null) return { message: "", code: 0 }
  const o = obj(v, "status")
  return { message: str(o.message, "status.message"), code: enumValue(o.code, STATUS_CODE, "status.code") }
}
