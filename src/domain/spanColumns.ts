import { Schema } from "effect"
import type { SpanRow } from "./jobs.ts"
import { inRange, interner } from "./columns.ts"

// A spans job as it travels through Redis: columns instead of one object per span, as metrics jobs
// (src/domain/metricColumns.ts). A batch has few resources, scopes and span names and many spans: each
// distinct resource (its service name and attributes, ~180 B of JSON in the row form, repeated for
// every span), scope and name is written once and the spans name it by index; ids, times and each
// span's own attributes, events and links stay one array element per span. The worker expands it into
// the same `SpansJob` the row form carried: spans of one resource share one attributes object (rows
// are read-only everywhere), so the insert escapes a resource's attributes once.
// Jobs queued in the row form (`_tag: "spans"`) before this existed are still decoded as before.

const Json = Schema.Record({ key: Schema.String, value: Schema.Unknown })
const Indexes = Schema.Array(Schema.Number)
const Strings = Schema.Array(Schema.String)
const Numbers = Schema.Array(Schema.Number)
const NullableStrings = Schema.Array(Schema.NullOr(Schema.String))

const SpanColumnsFields = Schema.TaggedStruct("spans-columns", {
  tenantId: Schema.String,
  receivedAtMs: Schema.Number,
  traceparent: Schema.optional(Schema.String),
  /** A resource: its service name and attributes, at the same index of both tables. */
  services: Strings,
  resources: Schema.Array(Json),
  scopes: NullableStrings,
  names: Strings,
  /** Per span: its index into each table, and its own fields. */
  resource: Indexes,
  scope: Indexes,
  name: Indexes,
  traceId: Strings,
  spanId: Strings,
  parentSpanId: NullableStrings,
  kind: Numbers,
  statusCode: Numbers,
  statusMessage: NullableStrings,
  startTimeMs: Numbers,
  endTimeMs: Numbers,
  durationMs: Numbers,
  attributes: Schema.Array(Json),
  events: Schema.Array(Schema.Array(Schema.Unknown)),
  links: Schema.Array(Schema.Array(Schema.Unknown))
})

/** Every column as long as `traceId`, every index inside its table: a job that is not is refused (dead-lettered), never half-read. */
export const SpanColumnsJob = SpanColumnsFields.pipe(Schema.filter((j) => {
  const n = j.traceId.length
  const sameLength = j.spanId.length === n && j.parentSpanId.length === n && j.kind.length === n && j.statusCode.length === n &&
    j.statusMessage.length === n && j.startTimeMs.length === n && j.endTimeMs.length === n && j.durationMs.length === n &&
    j.attributes.length === n && j.events.length === n && j.links.length === n
  return (sameLength && j.services.length === j.resources.length && inRange(j.resource, n, j.resources.length) &&
    inRange(j.scope, n, j.scopes.length) && inRange(j.name, n, j.names.length)) || "a column's length or index does not match the job's tables"
}))
export type SpanColumnsJob = typeof SpanColumnsJob.Type

export interface SpanRowsJob {
  readonly tenantId: string
  readonly receivedAtMs: number
  readonly traceparent?: string | undefined
  readonly spans: ReadonlyArray<SpanRow>
}

/** The columns of a spans job (its spans in the same order). */
export const toSpanColumns = (job: SpanRowsJob): SpanColumnsJob => {
  const services: Array<string> = [], resources: Array<Record<string, unknown>> = [], scopes: Array<string | null> = [], names: Array<string> = []
  const scopeOf = interner<string | null, string | null>(scopes), nameOf = interner<string, string>(names)
  // Resources by identity first (the spans of one resource share its object), then by service and JSON.
  const byObject = new Map<object, Map<string, number>>()
  const resourceOf = interner<string, string>(services)
  const n = job.spans.length
  const resource = new Array<number>(n), scope = new Array<number>(n), name = new Array<number>(n)
  const traceId = new Array<string>(n), spanId = new Array<string>(n), parentSpanId = new Array<string | null>(n)
  const kind = new Array<number>(n), statusCode = new Array<number>(n), statusMessage = new Array<string | null>(n)
  const startTimeMs = new Array<number>(n), endTimeMs = new Array<number>(n), durationMs = new Array<number>(n)
  const attributes = new Array<Record<string, unknown>>(n), events = new Array<ReadonlyArray<unknown>>(n), links = new Array<ReadonlyArray<unknown>>(n)
  for (let i = 0; i < n; i++) {
    const s = job.spans[i] as SpanRow
    let byService = byObject.get(s.resourceAttributes)
    if (byService === undefined) byObject.set(s.resourceAttributes, (byService = new Map()))
    let r = byService.get(s.serviceName)
    if (r === undefined) {
      const before = services.length
      r = resourceOf(`${s.serviceName}\u0000${JSON.stringify(s.resourceAttributes)}`, s.serviceName)
      if (r === before) resources.push(s.resourceAttributes)
      byService.set(s.serviceName, r)
    }
    resource[i] = r
    scope[i] = scopeOf(s.scopeName, s.scopeName)
    name[i] = nameOf(s.name, s.name)
    traceId[i] = s.traceId
    spanId[i] = s.spanId
    parentSpanId[i] = s.parentSpanId
    kind[i] = s.kind
    statusCode[i] = s.statusCode
    statusMessage[i] = s.statusMessage
    startTimeMs[i] = s.startTimeMs
    endTimeMs[i] = s.endTimeMs
    durationMs[i] = s.durationMs
    attributes[i] = s.attributes
    events[i] = s.events
    links[i] = s.links
  }
  return {
    _tag: "spans-columns", tenantId: job.tenantId, receivedAtMs: job.receivedAtMs,
    ...(job.traceparent === undefined ? {} : { traceparent: job.traceparent }),
    services, resources, scopes, names, resource, scope, name, traceId, spanId, parentSpanId, kind, statusCode, statusMessage,
    startTimeMs, endTimeMs, durationMs, attributes, events, links
  }
}

/** The rows of a columns job, as the row form carried them (spans of one resource share its attributes object). */
export const fromSpanColumns = (job: SpanColumnsJob): SpanRowsJob & { readonly _tag: "spans" } => {
  const n = job.traceId.length
  const spans = new Array<SpanRow>(n)
  for (let i = 0; i < n; i++) {
    const r = job.resource[i] as number
    spans[i] = {
      traceId: job.traceId[i] as string,
      spanId: job.spanId[i] as string,
      parentSpanId: job.parentSpanId[i] as string | null,
      name: job.names[job.name[i] as number] as string,
      kind: job.kind[i] as number,
      statusCode: job.statusCode[i] as number,
      statusMessage: job.statusMessage[i] as string | null,
      startTimeMs: job.startTimeMs[i] as number,
      endTimeMs: job.endTimeMs[i] as number,
      durationMs: job.durationMs[i] as number,
      serviceName: job.services[r] as string,
      scopeName: job.scopes[job.scope[i] as number] as string | null,
      resourceAttributes: job.resources[r] as Record<string, unknown>,
      attributes: job.attributes[i] as Record<string, unknown>,
      events: job.events[i] as ReadonlyArray<unknown>,
      links: job.links[i] as ReadonlyArray<unknown>
    }
  }
  return {
    _tag: "spans", tenantId: job.tenantId, receivedAtMs: job.receivedAtMs,
    ...(job.traceparent === undefined ? {} : { traceparent: job.traceparent }),
    spans
  }
}
