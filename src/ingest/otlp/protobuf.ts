import { decodeKeyValue, decodeResource, decodeScope } from "./protoCommon.ts"
import type { ExportTraceServiceRequest, ResourceSpans, ScopeSpans, Span, SpanEvent, SpanLink, Status } from "./types.ts"
import { emptyResource, emptyScope } from "./types.ts"
import { ProtoReader } from "./wire.ts"

export { decodeMetricsRequest } from "./protobufMetrics.ts"

/**
 * opentelemetry-proto v1 `ExportTraceServiceRequest` from protobuf bytes. Throws OtlpDecodeError
 * when the bytes are not a well-formed message; semantic checks are left to the normaliser.
 */
export const decodeTraceRequest = (buf: Uint8Array): ExportTraceServiceRequest => {
  const r = new ProtoReader(buf)
  const resourceSpans: Array<ResourceSpans> = []
  while (r.pos < r.length) {
    const tag = r.uint32()
    if (tag === 10) resourceSpans.push(decodeResourceSpans(r, r.end()))
    else r.skip(tag)
  }
  return { resourceSpans }
}

const decodeResourceSpans = (r: ProtoReader, end: number): ResourceSpans => {
  const out: ResourceSpans = { resource: emptyResource(), scopeSpans: [], schemaUrl: "" }
  while (r.pos < end) {
    const tag = r.uint32()
    switch (tag) {
      case 10: out.resource = decodeResource(r, r.end()); break
      case 18: out.scopeSpans.push(decodeScopeSpans(r, r.end())); break
      case 26: out.schemaUrl = r.string(); break
      default: r.skip(tag)
    }
  }
  r.checkEnd(end)
  return out
}

const decodeScopeSpans = (r: ProtoReader, end: number): ScopeSpans => {
  const out: ScopeSpans = { scope: emptyScope(), spans: [], schemaUrl: "" }
  while (r.pos < end) {
    const tag = r.uint32()
    switch (tag) {
      case 10: out.scope = decodeScope(r, r.end()); break
      case 18: out.spans.push(decodeSpan(r, r.end())); break
      case 26: out.schemaUrl = r.string(); break
      default: r.skip(tag)
    }
  }
  r.checkEnd(end)
  return out
}

const decodeSpan = (r: ProtoReader, end: number): Span => {
  const s: Span = {
    traceId: "", spanId: "", traceState: "", parentSpanId: "", flags: 0, name: "", kind: 0,
    startMs: 0, startNs: 0, endMs: 0, endNs: 0, attributes: [], droppedAttributesCount: 0,
    events: [], droppedEventsCount: 0, links: [], droppedLinksCount: 0, status: { message: "", code: 0 }
  }
  while (r.pos < end) {
    const tag = r.uint32()
    switch (tag) {
      case 10: s.traceId = r.hex(); break
      case 18: s.spanId = r.hex(); break
      case 26: s.traceState = r.string(); break
      case 34: s.parentSpanId = r.hex(); break
      case 42: s.name = r.string(); break
      case 48: s.kind = r.int32(); break
      case 57: s.startMs = r.nanosMs(); s.startNs = r.subMsNs; break
      case 65: s.endMs = r.nanosMs(); s.endNs = r.subMsNs; break
      case 74: s.attributes.push(decodeKeyValue(r, r.end())); break
      case 80: s.droppedAttributesCount = r.uint32(); break
      case 90: s.events.push(decodeEvent(r, r.end())); break
      case 96: s.droppedEventsCount = r.uint32(); break
      case 106: s.links.push(decodeLink(r, r.end())); break
      case 112: s.droppedLinksCount = r.uint32(); break
      case 122: decodeStatus(r, r.end(), s.status); break
      case 133: s.flags = r.fixed32(); break
      default: r.skip(tag)
    }
  }
  r.checkEnd(end)
  return s
}

const decodeEvent = (r: ProtoReader, end: number): SpanEvent => {
  const e: SpanEvent = { timeMs: 0, timeNs: 0, name: "", attributes: [], droppedAttributesCount: 0 }
  while (r.pos < end) {
    const tag = r.uint32()
    switch (tag) {
      case 9: e.timeMs = r.nanosMs(); e.timeNs = r.subMsNs; break
      case 18: e.name = r.string(); break
      case 26: e.attributes.push(decodeKeyValue(r, r.end())); break
      case 32: e.droppedAttributesCount = r.uint32(); break
      default: r.skip(tag)
    }
  }
  r.checkEnd(end)
  return e
}

const decodeLink = (r: ProtoReader, end: number): SpanLink => {
  const l: SpanLink = { traceId: "", spanId: "", traceState: "", attributes: [], droppedAttributesCount: 0, flags: 0 }
  while (r.pos < end) {
    const tag = r.uint32()
    switch (tag) {
      case 10: l.traceId = r.hex(); break
      case 18: l.spanId = r.hex(); break
      case 26: l.traceState = r.string(); break
      case 34: l.attributes.push(decodeKeyValue(r, r.end())); break
      case 40: l.droppedAttributesCount = r.uint32(); break
      case 53: l.flags = r.fixed32(); break
      default: r.skip(tag)
    }
  }
  r.checkEnd(end)
  return l
}

/** Merges into `st`: a message field that occurs twice is merged, per the protobuf spec. */
const decodeStatus = (r: ProtoReader, end: number, st: Status): void => {
  while (r.pos < end) {
    const tag = r.uint32()
    if (tag === 18) st.message = r.string()
    else if (tag === 24) st.code = r.int32()
    else r.skip(tag)
  }
  r.checkEnd(end)
}
