import { Effect } from "effect"
import { createHash } from "node:crypto"
import type { DbError, Queryable } from "../db/Db.ts"
import type { MetricRow, SpanRow } from "../domain/jobs.ts"
import { genaiValues } from "./genai/columns.ts"
import { holdAttributes } from "./genai/heldAttributes.ts"
import type { GenaiRecord } from "./genai/recognize.ts"
import { costing, statementContention } from "../db/fairGate.ts"
import { COPY_UNSUPPORTED } from "../db/client.ts"
import { copyJson, copyText, copyTimestamp, copyValue, CopyRows } from "./copyText.ts"
import { float8Array, int8Array, jsonArray, jsonElement, nullableArray, once, textArray, textArrayOf, textElement } from "./pgArrays.ts"

/**
 * Rows per statement. The embedded database runs one statement at a time: a statement of a few hundred
 * rows holds it for milliseconds, so another tenant's insert waits for little more (src/db/fairGate.ts).
 * While two tenants use it (statementContention), a fifth of that: each statement costs ~0.5 ms more,
 * paid only then, and the one-row insert of a quiet tenant waits for a 100-row statement at most.
 */
export const CHUNK = 500
export const CONTENDED_CHUNK = 100

const chunks = <A>(xs: ReadonlyArray<A>, n = statementContention.contended() ? CONTENDED_CHUNK : CHUNK): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n))
  return out
}

/** A signed 64-bit key from the first 8 bytes of a SHA-256, as the decimal text pg takes for int8. */
export const hash64 = (s: string): bigint => createHash("sha256").update(s).digest().readBigInt64BE(0)

const stableJson = (o: Record<string, unknown>): string =>
  JSON.stringify(Object.keys(o).sort().map((k) => [k, o[k]]))

/**
 * Where a point came from decides its identity: a native point is its job and position (a redelivered
 * job writes the same keys), an OTLP point is its series (the same export sent twice is one row).
 */
export const dedupKeys = (points: ReadonlyArray<MetricRow>, source: "native" | "otlp", jobId: string): Array<string> => {
  if (source === "otlp") {
    // Once per (service, attribute set): the points of one set share its object (src/domain/metricColumns.ts).
    const bySet = new Map<object, Map<string, string>>()
    return points.map((p) => {
      let byService = bySet.get(p.attributes)
      if (byService === undefined) bySet.set(p.attributes, (byService = new Map()))
      let key = byService.get(p.serviceName)
      if (key === undefined) byService.set(p.serviceName, (key = String(hash64(`${p.serviceName}\u0000${stableJson(p.attributes)}`))))
      return key
    })
  }
  const base = hash64(jobId)
  return points.map((_, i) => String(BigInt.asIntN(64, base + BigInt(i))))
}

/** The attributes' JSON as a text-array element, once per attribute set. */
const attributesElements = () => once(jsonElement)

const UNIQUE_VIOLATION = "23505"

/**
 * A chunk by COPY where the database has it (Queryable.copyFrom: a server's pool, the embedded database), else by its INSERT.
 * COPY has no ON CONFLICT: a chunk holding a row already stored (a redelivered job, a resent export, or
 * the same row twice) fails whole, storing none of it, and goes again by the INSERT, which skips that
 * row. No transaction is needed around it: COPY is one statement. `rows` gives the chunk's bytes, each
 * row's text written into one buffer after the last (CopyRows; joining the rows' strings, each a rope of
 * its fields, cost three times as much per span), or undefined when COPY's text cannot give a value as
 * the INSERT stores it (copyTimestamp's range): that chunk goes by the INSERT.
 */
const copyOrInsert = (
  tx: Queryable, table: string, columns: ReadonlyArray<string>, rows: () => Buffer | undefined, insert: () => Effect.Effect<unknown, DbError>
): Effect.Effect<void, DbError> =>
  Effect.suspend(() => {
    const copy = tx.copyFrom
    const data = copy === undefined ? undefined : rows()
    return copy === undefined || data === undefined
      ? Effect.asVoid(insert())
      : copy(table, columns, data).pipe(Effect.catchIf((e) => e.code === UNIQUE_VIOLATION || e.code === COPY_UNSUPPORTED, () => Effect.asVoid(insert())))
  })

/** A first guess of a row's COPY text (a metric point's is ~120 bytes, a span's ~500; the buffer grows past it). */
const METRIC_ROW_BYTES = 160
const SPAN_ROW_BYTES = 640

const METRIC_COLUMNS = ["tenant_id", "time", "name", "value", "service_name", "trace_id", "attributes", "dedup_key"]

export const insertMetricPoints = (tx: Queryable, tenantId: string, points: ReadonlyArray<MetricRow>, keys: ReadonlyArray<string>) => {
  const attributes = attributesElements()
  const names = once(textElement)
  const services = once(textElement)
  // A batch's points mostly share their time (the time its request was accepted).
  const copied = { tenant: copyText(tenantId), names: once(copyText), services: once(copyText), attributes: once(copyJson), times: once(copyTimestamp) }
  return Effect.forEach(
    chunks(points.map((p, i) => [p, keys[i] ?? "0"] as const)),
    (chunk) =>
      copyOrInsert(
        tx, "metric_points", METRIC_COLUMNS,
        () => {
          const rows = new CopyRows(chunk.length * METRIC_ROW_BYTES)
          for (let i = 0; i < chunk.length; i++) {
            const [p, k] = chunk[i]!
            const time = copied.times(p.timeMs)
            if (time === undefined) return undefined
            rows.push(`${copied.tenant}\t${time}\t${copied.names(p.name)}\t${p.value}\t${copied.services(p.serviceName)}\t${copyText(p.traceId)}\t${copied.attributes(p.attributes)}\t${k}\n`)
          }
          return rows.bytes()
        },
        () => tx.query(
          `INSERT INTO metric_points (${METRIC_COLUMNS.join(", ")})
           SELECT $1, to_timestamp(t / 1000.0), n, v, s, tr, a::jsonb, k
           FROM unnest($2::float8[], $3::text[], $4::float8[], $5::text[], $6::text[], $7::text[], $8::int8[]) AS u(t, n, v, s, tr, a, k)
           ON CONFLICT DO NOTHING`,
          // Array literals built here (src/ingest/pgArrays.ts), each distinct name, service and attribute set escaped once.
          [
            tenantId,
            float8Array(chunk.map(([p]) => p.timeMs)),
            textArrayOf(chunk.map(([p]) => names(p.name))),
            float8Array(chunk.map(([p]) => p.value)),
            textArrayOf(chunk.map(([p]) => services(p.serviceName))),
            textArray(chunk.map(([p]) => p.traceId)),
            textArrayOf(chunk.map(([p]) => attributes(p.attributes))),
            int8Array(chunk.map(([, k]) => k))
          ]
        )
      ).pipe(costing(chunk.length)),
    { discard: true }
  )
}

const SPAN_COLUMNS = ["tenant_id", "trace_id", "span_id", "parent_span_id", "name", "kind", "status_code", "status_message", "service_name",
  "scope_name", "start_time", "end_time", "duration_ms", "resource_attributes", "attributes", "events", "links"]

/**
 * `genai[i]` is the GenAI record of `spans[i]` (src/ingest/genai), stored in the spans' genai_* columns
 * (`awaiting[i]`: the span is stored before its parent, genai_awaiting):
 * only those with a value in the chunk are sent (a column left out stays NULL), so a batch without a
 * GenAI span is inserted exactly as before and plain spans pay nothing.
 */
export const insertSpans = (
  tx: Queryable, tenantId: string, spans: ReadonlyArray<SpanRow>, genai: ReadonlyArray<GenaiRecord | undefined> = [], awaiting: ReadonlyArray<boolean> = []
) => {
  const services = once(textElement)
  // Once per resource: its spans share one attributes object (src/domain/spanColumns.ts).
  const resources = attributesElements()
  const copied = { tenant: copyText(tenantId), services: once(copyText), resources: once(copyJson) }
  return Effect.forEach(
    chunks(spans.map((s, i) => [s, genai[i], awaiting[i] === true] as const)),
    (pairs) => {
      const chunk = pairs.map(([s]) => s)
      // A GenAI span's recognised attributes that its columns hold are not stored twice (src/ingest/genai/heldAttributes.ts).
      const kept = pairs.map(([s, r]) => holdAttributes(s.attributes, r))
      const g = genaiValues(pairs.map(([, r]) => r), pairs.map(([, , a]) => a), kept.map((k) => k.held))
      const extra = g.map((c, i) => ({ ...c, alias: `g${i}` }))
      const columns = [...SPAN_COLUMNS, ...extra.map((c) => c.column)]
      const copyRows = () => {
        // A GenAI column's repeated text (a model, an agent) is escaped once.
        const values = extra.map((c) => (c.type === "text" ? once(copyValue) : copyValue))
        const rows = new CopyRows(chunk.length * SPAN_ROW_BYTES)
        const fields = new Array<string>(extra.length)
        for (let i = 0; i < chunk.length; i++) {
          const s = chunk[i]!
          const start = copyTimestamp(s.startTimeMs)
          const end = copyTimestamp(s.endTimeMs)
          if (start === undefined || end === undefined) return undefined
          const row = `${copied.tenant}\t${copyText(s.traceId)}\t${copyText(s.spanId)}\t${copyText(s.parentSpanId)}\t${copyText(s.name)}\t${s.kind}\t${s.statusCode}\t${copyText(s.statusMessage)}\t${copied.services(s.serviceName)}\t${copyText(s.scopeName)}\t${start}\t${end}\t${s.durationMs}\t${copied.resources(s.resourceAttributes)}\t${copyJson(kept[i]!.attributes)}\t${copyJson(s.events)}\t${copyJson(s.links)}`
          if (extra.length === 0) {
            rows.push(`${row}\n`)
            continue
          }
          // The GenAI fields joined (one flat string) rather than appended one by one: a rope of two dozen
          // pieces per row cost its write more to flatten than the fields themselves (profiles).
          for (let c = 0; c < extra.length; c++) fields[c] = values[c]!(extra[c]!.values[i] ?? null)
          rows.push(`${row}\t${fields.join("\t")}\n`)
        }
        return rows.bytes()
      }
      return copyOrInsert(tx, "spans", columns, copyRows, () => tx.query(
        `INSERT INTO spans (${columns.join(", ")})
         SELECT $1, tr, sp, pa, n, k, sc, sm, sv, sn, to_timestamp(st / 1000.0), to_timestamp(et / 1000.0), d,
                ra::jsonb, a::jsonb, ev::jsonb, l::jsonb${extra.map((c) => `, ${c.alias}`).join("")}
         FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::int2[], $7::int2[], $8::text[], $9::text[], $10::text[],
                     $11::float8[], $12::float8[], $13::float8[], $14::text[], $15::text[], $16::text[], $17::text[]${extra.map((c, i) => `, $${18 + i}::${c.type}[]`).join("")})
              AS u(tr, sp, pa, n, k, sc, sm, sv, sn, st, et, d, ra, a, ev, l${extra.map((c) => `, ${c.alias}`).join("")})
         ON CONFLICT DO NOTHING`,
        // Array literals built here (src/ingest/pgArrays.ts); a resource's attributes, the same for its
        // spans, are escaped once, and so is a GenAI column's repeated text (a model, an agent).
        [
          tenantId,
          textArray(chunk.map((s) => s.traceId)),
          textArray(chunk.map((s) => s.spanId)),
          textArray(chunk.map((s) => s.parentSpanId)),
          textArray(chunk.map((s) => s.name)),
          float8Array(chunk.map((s) => s.kind)),
          float8Array(chunk.map((s) => s.statusCode)),
          textArray(chunk.map((s) => s.statusMessage)),
          textArrayOf(chunk.map((s) => services(s.serviceName))),
          textArray(chunk.map((s) => s.scopeName)),
          float8Array(chunk.map((s) => s.startTimeMs)),
          float8Array(chunk.map((s) => s.endTimeMs)),
          float8Array(chunk.map((s) => s.durationMs)),
          textArrayOf(chunk.map((s) => resources(s.resourceAttributes))),
          jsonArray(kept.map((k) => k.attributes)),
          jsonArray(chunk.map((s) => s.events)),
          jsonArray(chunk.map((s) => s.links)),
          ...g.map((c) => nullableArray(c.type, c.values))
        ]
      )).pipe(costing(chunk.length))
    },
    { discard: true }
  )
}

/**
 * A root span (no parent) makes its trace an execution too, found by the same search and detail
 * endpoints, unless the trace already holds one (a native execution, whose own span may come later).
 * The root claims its trace in execution_traces (migrations/0014) and the execution is inserted only
 * for a claim that is new, in the same statement: a replayed batch, a trace with a native execution,
 * and a root of the same trace stored by another batch at the same moment all find the claim taken.
 * One root per trace: of a trace's roots in the batch, the earliest. The claim holds the execution's start
 * time: its id finds it through the claim and the primary key (migrations/0021, src/db/executionByTrace.ts).
 */
const FAILED = textElement("failed")
const COMPLETED = textElement("completed")

export const upsertSpanExecutions = (tx: Queryable, tenantId: string, spans: ReadonlyArray<SpanRow>) => {
  const byTrace = new Map<string, SpanRow>()
  for (const s of spans) {
    if (s.parentSpanId !== null) continue
    const seen = byTrace.get(s.traceId)
    if (seen === undefined || s.startTimeMs < seen.startTimeMs) byTrace.set(s.traceId, s)
  }
  if (byTrace.size === 0) return Effect.void
  // Claimed in trace id order: two statements claiming some of the same traces wait for each other in one order, never in a cycle.
  const roots = [...byTrace.values()].sort((a, b) => (a.traceId < b.traceId ? -1 : a.traceId > b.traceId ? 1 : 0))
  return tx.query(
    `WITH claimed AS (
       INSERT INTO execution_traces (tenant_id, trace_id, start_time) SELECT $1, c, to_timestamp(s / 1000.0) FROM unnest($2::text[], $7::float8[]) AS c(c, s)
       ON CONFLICT DO NOTHING RETURNING trace_id
     )
     INSERT INTO executions (tenant_id, trace_id, span_id, execution_id, operation_name, service_name, status, source, start_time, end_time,
                             duration_ms, metadata, last_seq)
     SELECT $1, tr, sp, tr, n, sv, st, 'otlp', to_timestamp(s / 1000.0), to_timestamp(e / 1000.0), d, a::jsonb, 0
     FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::float8[], $9::float8[], $10::text[])
          AS u(tr, sp, n, sv, st, s, e, d, a)
     JOIN claimed ON claimed.trace_id = u.tr
     ON CONFLICT DO NOTHING`,
    // Array literals built here (src/ingest/pgArrays.ts), as for the spans themselves.
    [
      tenantId,
      textArray(roots.map((s) => s.traceId)),
      textArray(roots.map((s) => s.spanId)),
      textArray(roots.map((s) => s.name)),
      textArray(roots.map((s) => s.serviceName)),
      textArrayOf(roots.map((s) => (s.statusCode === 2 ? FAILED : COMPLETED))),
      float8Array(roots.map((s) => s.startTimeMs)),
      float8Array(roots.map((s) => s.endTimeMs)),
      float8Array(roots.map((s) => s.durationMs)),
      jsonArray(roots.map((s) => s.attributes))
    ]
  ).pipe(Effect.asVoid)
}
