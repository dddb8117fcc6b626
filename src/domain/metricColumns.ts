import { Schema } from "effect"
import type { MetricRow } from "./jobs.ts"
import { inRange, interner } from "./columns.ts"

// A metrics job as it travels through Redis: columns instead of one object per point. A batch has few
// names, services, attribute sets, trace ids and times and many points, so each distinct one is written
// once (a table) and the points name it by its index; values stay a plain array. The job's JSON shrinks
// from ~150 B to ~15 B per point, and with it what ioredis, BullMQ and JSON.parse move and allocate.
// The worker expands it back into the same `MetricsJob`: points of one attribute set share one object
// (read-only everywhere), so per-set work (JSON of the attributes, the GenAI operation) is done once.
// Jobs queued in the row form (`_tag: "metrics"`) before this existed are still decoded as before.

const Json = Schema.Record({ key: Schema.String, value: Schema.Unknown })
const Indexes = Schema.Array(Schema.Number)

const MetricColumnsFields = Schema.TaggedStruct("metrics-columns", {
  tenantId: Schema.String,
  receivedAtMs: Schema.Number,
  traceparent: Schema.optional(Schema.String),
  source: Schema.Literal("native", "otlp"),
  names: Schema.Array(Schema.String),
  services: Schema.Array(Schema.String),
  attributeSets: Schema.Array(Json),
  traceIds: Schema.Array(Schema.NullOr(Schema.String)),
  times: Schema.Array(Schema.Number),
  /** Per point: its value, and its index into each table. */
  value: Schema.Array(Schema.Number),
  name: Indexes,
  service: Indexes,
  attributes: Indexes,
  traceId: Indexes,
  time: Indexes
})

/** Every column as long as `value`, every index inside its table: a job that is not is refused (dead-lettered), never half-read. */
export const MetricColumnsJob = MetricColumnsFields.pipe(Schema.filter((j) => {
  const n = j.value.length
  return (inRange(j.name, n, j.names.length) && inRange(j.service, n, j.services.length) && inRange(j.attributes, n, j.attributeSets.length) &&
    inRange(j.traceId, n, j.traceIds.length) && inRange(j.time, n, j.times.length)) || "a column's length or index does not match the job's tables"
}))
export type MetricColumnsJob = typeof MetricColumnsJob.Type

interface RowsJob {
  readonly tenantId: string
  readonly receivedAtMs: number
  readonly traceparent?: string | undefined
  readonly source: "native" | "otlp"
  readonly points: ReadonlyArray<MetricRow>
}

/** The columns of a metrics job (its points in the same order). */
export const toMetricColumns = (job: RowsJob): MetricColumnsJob => {
  const names: Array<string> = [], services: Array<string> = [], attributeSets: Array<Record<string, unknown>> = []
  const traceIds: Array<string | null> = [], times: Array<number> = []
  const name = interner<string, string>(names), service = interner<string, string>(services)
  const traceId = interner<string | null, string | null>(traceIds), time = interner<number, number>(times)
  // Attribute sets by identity first (rows of one set often share the object), then by their JSON.
  const byObject = new Map<object, number>()
  const attributesOf = interner<string, Record<string, unknown>>(attributeSets)
  const n = job.points.length
  const cols = { value: new Array<number>(n), name: new Array<number>(n), service: new Array<number>(n), attributes: new Array<number>(n), traceId: new Array<number>(n), time: new Array<number>(n) }
  for (let i = 0; i < n; i++) {
    const p = job.points[i] as MetricRow
    cols.value[i] = p.value
    cols.name[i] = name(p.name, p.name)
    cols.service[i] = service(p.serviceName, p.serviceName)
    cols.traceId[i] = traceId(p.traceId, p.traceId)
    cols.time[i] = time(p.timeMs, p.timeMs)
    let a = byObject.get(p.attributes)
    if (a === undefined) {
      a = attributesOf(JSON.stringify(p.attributes), p.attributes)
      byObject.set(p.attributes, a)
    }
    cols.attributes[i] = a
  }
  return {
    _tag: "metrics-columns", tenantId: job.tenantId, receivedAtMs: job.receivedAtMs,
    ...(job.traceparent === undefined ? {} : { traceparent: job.traceparent }),
    source: job.source, names, services, attributeSets, traceIds, times, ...cols
  }
}

/** The rows of a columns job, as the row form carried them (points of one attribute set share its object). */
export const fromMetricColumns = (job: MetricColumnsJob): RowsJob & { readonly _tag: "metrics" } => {
  const n = job.value.length
  const points = new Array<MetricRow>(n)
  for (let i = 0; i < n; i++) {
    points[i] = {
      name: job.names[job.name[i] as number] as string,
      value: job.value[i] as number,
      timeMs: job.times[job.time[i] as number] as number,
      serviceName: job.services[job.service[i] as number] as string,
      traceId: job.traceIds[job.traceId[i] as number] as string | null,
      attributes: job.attributeSets[job.attributes[i] as number] as Record<string, unknown>
    }
  }
  return {
    _tag: "metrics", tenantId: job.tenantId, receivedAtMs: job.receivedAtMs,
    ...(job.traceparent === undefined ? {} : { traceparent: job.traceparent }),
    source: job.source, points
  }
}
