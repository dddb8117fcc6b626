import { MAX_NAME_LENGTH, outsideWindow } from "../../domain/limits.ts"
import type { TimeWindow } from "../../domain/limits.ts"
import { attributesProblem, attributesToRecord, resourceProblem, serviceNameOf } from "./attributes.ts"
import type { ExportTraceServiceRequest, Rejections, Span } from "./types.ts"
import { floatMs, iso, makeRejections, reject } from "./types.ts"

export { normalizeMetrics } from "./normalizeMetrics.ts"
export type { MetricPointRow, MetricsResult } from "./normalizeMetrics.ts"

export interface SpanEventRow {
  readonly name: string
  readonly timeMs: number
  readonly attributes: Record<string, unknown>
}

export interface SpanLinkRow {
  readonly traceId: string
  readonly spanId: string
  readonly attributes: Record<string, unknown>
}

/** `resourceAttributes` is one object shared by every row of its resource: treat rows as read-only. */
export interface SpanRow {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId: string | null
  readonly name: string
  readonly kind: number
  readonly statusCode: number
  readonly statusMessage: string | null
  readonly startTimeMs: number
  readonly endTimeMs: number
  readonly durationMs: number
  readonly serviceName: string
  readonly scopeName: string | null
  readonly resourceAttributes: Record<string, unknown>
  readonly attributes: Record<string, unknown>
  readonly events: Array<SpanEventRow>
  readonly links: Array<SpanLinkRow>
}

export interface TracesResult {
  readonly spans: Array<SpanRow>
  readonly rejected: number
  readonly errors: Array<string>
}

const isHexId = (s: string, length: number): boolean => {
  if (s.length !== length) return false
  let nonZero = false
  for (let i = 0; i < length; i++) {
    const c = s.charCodeAt(i)
    if (c === 48) continue
    if (!((c > 48 && c <= 57) || (c >= 97 && c <= 102))) return false
    nonZero = true
  }
  return nonZero
}

const show = (s: string): string => JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s)

// Some exporters send an all-zero parent id for a root span instead of an empty one.
const ROOT_PARENT = "0000000000000000"
const parentOf = (s: Span): string | null => (s.parentSpanId === "" || s.parentSpanId === ROOT_PARENT ? null : s.parentSpanId)

// SpanKind and Status.Code as opentelemetry-proto defines them (stored as smallint).
const MAX_SPAN_KIND = 5
const MAX_STATUS_CODE = 2

const spanProblem = (s: Span): string | undefined => {
  if (!isHexId(s.traceId, 32)) return `traceId must be 32 hex characters, not all zero (got ${show(s.traceId)})`
  if (!isHexId(s.spanId, 16)) return `spanId must be 16 hex characters, not all zero (got ${show(s.spanId)})`
  if (parentOf(s) !== null && !isHexId(s.parentSpanId, 16)) return `parentSpanId must be empty or 16 hex characters (got ${show(s.parentSpanId)})`
  if (s.startMs === 0 && s.startNs === 0) return "startTimeUnixNano is missing"
  if (s.endMs === 0 && s.endNs === 0) return "endTimeUnixNano is missing"
  if (!(s.kind >= 0 && s.kind <= MAX_SPAN_KIND)) return `kind ${s.kind} is not a SpanKind (0-${MAX_SPAN_KIND})`
  if (!(s.status.code >= 0 && s.status.code <= MAX_STATUS_CODE)) return `status.code ${s.status.code} is not a status code (0-${MAX_STATUS_CODE})`
  if (s.name.length > MAX_NAME_LENGTH) return `name is ${s.name.length} characters long (at most ${MAX_NAME_LENGTH})`
  const attrs = s.attributes.length === 0 ? undefined : attributesProblem(s.attributes, "the span")
  if (attrs !== undefined) return attrs
  for (const e of s.events) {
    if (e.name.length > MAX_NAME_LENGTH) return `event name is ${e.name.length} characters long (at most ${MAX_NAME_LENGTH})`
    const p = e.attributes.length === 0 ? undefined : attributesProblem(e.attributes, `event ${show(e.name)}`)
    if (p !== undefined) return p
  }
  for (const l of s.links) {
    if (!isHexId(l.traceId, 32) || !isHexId(l.spanId, 16)) return `link to ${show(l.traceId)}/${show(l.spanId)} has an invalid id`
    const p = l.attributes.length === 0 ? undefined : attributesProblem(l.attributes, "a link")
    if (p !== undefined) return p
  }
  return undefined
}

const timeProblem = (w: TimeWindow | undefined, startMs: number, endMs: number): string | undefined => {
  if (w === undefined) return undefined
  if (outsideWindow(w, startMs)) return `start time ${iso(startMs)} is outside the accepted window (${iso(w.minMs)} to ${iso(w.maxMs)})`
  if (outsideWindow(w, endMs)) return `end time ${iso(endMs)} is outside the accepted window (${iso(w.minMs)} to ${iso(w.maxMs)})`
  return undefined
}


/**
 * Decoded trace request to span rows. Spans failing the checks (ids, enums, bounds of
 * src/domain/limits.ts, times within `window` when given) are counted in `rejected`; `rej` carries
 * rejections already made by the decoder.
 */
export const normalizeTraces = (req: ExportTraceServiceRequest, rej: Rejections = makeRejections(), window?: TimeWindow): TracesResult => {
  const spans: Array<SpanRow> = []
  for (const rs of req.resourceSpans) {
    const resourceAttributes = attributesToRecord(rs.resource.attributes)
    const serviceName = serviceNameOf(resourceAttributes)
    const unstorable = resourceProblem(rs.resource.attributes, serviceName)
    if (unstorable !== undefined) {
      const n = rs.scopeSpans.reduce((k, ss) => k + ss.spans.length, 0)
      if (n > 0) reject(rej, n, `${n} span(s) of a resource: ${unstorable}`)
      continue
    }
    for (const ss of rs.scopeSpans) {
      const scopeName = ss.scope.name === "" ? null : ss.scope.name
      for (const s of ss.spans) {
        const problem = spanProblem(s)
        if (problem !== undefined) {
          reject(rej, 1, `span ${show(s.spanId)} of trace ${show(s.traceId)}: ${problem}`)
          continue
        }
        const { startMs, startNs, endMs, endNs } = s
        const late = timeProblem(window, startMs, endMs)
        if (late !== undefined) {
          reject(rej, 1, `span ${show(s.spanId)} of trace ${show(s.traceId)}: ${late}`)
          continue
        }
        spans.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: parentOf(s),
          name: s.name,
          kind: s.kind,
          statusCode: s.status.code,
          statusMessage: s.status.message === "" ? null : s.status.message,
          startTimeMs: floatMs(startMs, startNs),
          endTimeMs: floatMs(endMs, endNs),
          // From the exact parts, so short spans keep ns precision that the epoch floats lose.
          durationMs: endMs - startMs + (endNs - startNs) / 1e6,
          serviceName,
          scopeName,
          resourceAttributes,
          attributes: attributesToRecord(s.attributes),
          events: s.events.map((e) => ({ name: e.name, timeMs: floatMs(e.timeMs, e.timeNs), attributes: attributesToRecord(e.attributes) })),
          links: s.links.map((l) => ({ traceId: l.traceId, spanId: l.spanId, attributes: attributesToRecord(l.attributes) }))
        })
      }
    }
  }
  return { spans, rejected: rej.count, errors: rej.errors }
}
