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
//
// Since stop 34 the trace ids are a table too (a trace's spans mostly come in one batch), and each span's
// attributes travel as its shape (its list of keys, written once per distinct list) and its values: the
// keys were half of a span's attributes' JSON, which were half of the job (bench: 290 → ~200 B per span,
// and the service's CPU moving a job through Redis is per byte). Columns jobs of the earlier form (a trace
// id and an attributes object per span) are still decoded; a worker must be upgraded before the APIs
// that enqueue for it (docker compose restarts them together).

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
  /** Per span (jobs enqueued before stop 34), or by index into `traces`. */
  traceId: Schema.optional(Strings),
  traces: Schema.optional(Strings),
  trace: Schema.optional(Indexes),
  spanId: Strings,
  parentSpanId: NullableStrings,
  kind: Numbers,
  statusCode: Numbers,
  statusMessage: NullableStrings,
  startTimeMs: Numbers,
  endTimeMs: Numbers,
  durationMs: Numbers,
  /** Per span (jobs enqueued before stop 34), or a span's values in the order of its shape's keys. */
  attributes: Schema.optional(Schema.Array(Json)),
  attributeKeys: Schema.optional(Schema.Array(Strings)),
  attributeShape: Schema.optional(Indexes),
  attributeValues: Schema.optional(Schema.Array(Schema.Array(Schema.Unknown))),
  events: Schema.Array(Schema.Array(Schema.Unknown)),
  links: Schema.Array(Schema.Array(Schema.Unknown))
})

/** The trace ids as one of the two forms, complete. */
const tracesMatch = (j: typeof SpanColumnsFields.Type, n: number): boolean =>
  j.traceId !== undefined
    ? j.traceId.length === n && j.traces === undefined && j.trace === undefined
    : j.traces !== undefined && j.trace !== undefined && inRange(j.trace, n, j.traces.length)

/** The attributes as one of the two forms, complete: each span's values as many as its shape's keys. */
const attributesMatch = (j: typeof SpanColumnsFields.Type, n: number): boolean => {
  if (j.attributes !== undefined) return j.attributes.length === n && j.attributeKeys === undefined && j.attributeShape === undefined && j.attributeValues === undefined
  const { attributeKeys: keys, attributeShape: shape, attributeValues: values } = j
  if (keys === undefined || shape === undefined || values === undefined || values.length !== n || !inRange(shape, n, keys.length)) return false
  for (let i = 0; i < n; i++) if ((values[i] as ReadonlyArray<unknown>).length !== (keys[shape[i] as number] as ReadonlyArray<string>).length) return false
  return true
}

/** Every column as long as `spanId`, every index inside its table: a job that is not is refused (dead-lettered), never half-read. */
export const SpanColumnsJob = SpanColumnsFields.pipe(Schema.filter((j) => {
  const n = j.spanId.length
  const sameLength = j.parentSpanId.length === n && j.kind.length === n && j.statusCode.length === n &&
    j.statusMessage.length === n && j.startTimeMs.length === n && j.endTimeMs.length === n && j.durationMs.length === n &&
    j.events.length === n && j.links.length === n
  return (sameLength && tracesMatch(j, n) && attributesMatch(j, n) && j.services.length === j.resources.length &&
    inRange(j.resource, n, j.resources.length) && inRange(j.scope, n, j.scopes.length) && inRange(j.name, n, j.names.length)) ||
    "a column's length or index does not match the job's tables"
}))
export type SpanColumnsJob = typeof SpanColumnsJob.Type

export interface SpanRowsJob {
  readonly tenantId: string
  readonly receivedAtMs: number
  readonly traceparent?: string | undefined
  readonly spans: ReadonlyArray<SpanRow>
}

interface ShapeNode {
  readonly next: Map<string, ShapeNode>
  /** The shape whose keys lead here, or -1. */
  index: number
}

/** The columns of a spans job (its spans in the same order). */
export const toSpanColumns = (job: SpanRowsJob): SpanColumnsJob => {
  const services: Array<string> = [], resources: Array<Record<string, unknown>> = [], scopes: Array<string | null> = [], names: Array<string> = []
  const scopeOf = interner<string | null, string | null>(scopes), nameOf = interner<string, string>(names)
  const traces: Array<string> = [], attributeKeys: Array<Array<string>> = []
  const traceOf = interner<string, string>(traces)
  // Shapes in a trie of their keys: no key string is built per span.
  const shapes: ShapeNode = { next: new Map(), index: -1 }
  // Resources by identity first (the spans of one resource share its object), then by service and JSON.
  const byObject = new Map<object, Map<string, number>>()
  const resourceOf = interner<string, string>(services)
  const n = job.spans.length
  const resource = new Array<number>(n), scope = new Array<number>(n), name = new Array<number>(n)
  const trace = new Array<number>(n), spanId = new Array<string>(n), parentSpanId = new Array<string | null>(n)
  const kind = new Array<number>(n), statusCode = new Array<number>(n), statusMessage = new Array<string | null>(n)
  const startTimeMs = new Array<number>(n), endTimeMs = new Array<number>(n), durationMs = new Array<number>(n)
  const attributeShape = new Array<number>(n), attributeValues = new Array<Array<unknown>>(n)
  const events = new Array<ReadonlyArray<unknown>>(n), links = new Array<ReadonlyArray<unknown>>(n)
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
    trace[i] = traceOf(s.traceId, s.traceId)
    spanId[i] = s.spanId
    parentSpanId[i] = s.parentSpanId
    kind[i] = s.kind
    statusCode[i] = s.statusCode
    statusMessage[i] = s.statusMessage
    startTimeMs[i] = s.startTimeMs
    endTimeMs[i] = s.endTimeMs
    durationMs[i] = s.durationMs
    // A key whose value is undefined is left out, as JSON leaves it out of the object.
    const a = s.attributes
    const values: Array<unknown> = []
    let node = shapes
    for (const k in a) {
      if (!Object.hasOwn(a, k)) continue
      const v = a[k]
      if (v === undefined) continue
      let child = node.next.get(k)
      if (child === undefined) node.next.set(k, (child = { next: new Map(), index: -1 }))
      node = child
      values.push(v)
    }
    if (node.index < 0) {
      node.index = attributeKeys.length
      const keys: Array<string> = []
      for (const k in a) if (Object.hasOwn(a, k) && a[k] !== undefined) keys.push(k)
      attributeKeys.push(keys)
    }
    attributeShape[i] = node.index
    attributeValues[i] = values
    events[i] = s.events
    links[i] = s.links
  }
  return {
    _tag: "spans-columns", tenantId: job.tenantId, receivedAtMs: job.receivedAtMs,
    ...(job.traceparent === undefined ? {} : { traceparent: job.traceparent }),
    services, resources, scopes, names, resource, scope, name, traces, trace, spanId, parentSpanId, kind, statusCode, statusMessage,
    startTimeMs, endTimeMs, durationMs, attributeKeys, attributeShape, attributeValues, events, links
  }
}

/** An attributes object from its shape's keys and its values (own properties, "__proto__" too, as JSON.parse makes them). */
const objectOf = (keys: ReadonlyArray<string>, values: ReadonlyArray<unknown>): Record<string, unknown> => {
  const o: Record<string, unknown> = {}
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k] as string
    if (key === "__proto__") Object.defineProperty(o, key, { value: values[k], enumerable: true, writable: true, configurable: true })
    else o[key] = values[k]
  }
  return o
}

/** The rows of a columns job, as the row form carried them (spans of one resource share its attributes object). */
export const fromSpanColumns = (job: SpanColumnsJob): SpanRowsJob & { readonly _tag: "spans" } => {
  const n = job.spanId.length
  const spans = new Array<SpanRow>(n)
  const { traceId, traces, trace, attributes, attributeKeys, attributeShape, attributeValues } = job
  for (let i = 0; i < n; i++) {
    const r = job.resource[i] as number
    spans[i] = {
      traceId: (traceId !== undefined ? traceId[i] : traces![trace![i] as number]) as string,
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
      attributes: attributes !== undefined
        ? attributes[i] as Record<string, unknown>
        : objectOf(attributeKeys![attributeShape![i] as number] as ReadonlyArray<string>, attributeValues![i] as ReadonlyArray<unknown>),
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
