import { Effect } from "effect"
import fc from "fast-check"
import type { Queryable } from "../../src/db/Db.ts"
import type { MetricRow, SpanRow } from "../../src/domain/jobs.ts"
import { NOTHING_INHERITED, recognize } from "../../src/ingest/genai/recognize.ts"
import type { GenaiRecord } from "../../src/ingest/genai/recognize.ts"

// Rows with awkward values for the two insert paths of src/ingest/persist.ts (INSERT … unnest and COPY):
// COPY's and the array literals' special characters, any code point (lone surrogates included), NUL
// when asked, times with OTLP's fractional milliseconds (and some beyond COPY's time range), floats with NaN,
// ±Infinity and -0.

const SPECIALS = ["\\", "\t", "\n", "\r", "\"", ",", "{", "}", " ", "'", "a", "é", "漢", "🙂", "\u2028", "N", "."]

export const awkwardString = (nul = false): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ maxLength: 10 }),
    // Any code point but NUL unless asked: a binary string's NUL made the two paths fail with different
    // SQLSTATEs (22P05 in a COPY'd jsonb key, 22021 in the INSERT's parameter), a case the OTLP decoder
    // never lets through (it replaces NUL) and the NUL property checks apart (both fail, nothing stored).
    fc.string({ unit: "binary", maxLength: 6 }).map((x) => (nul ? x : x.replaceAll("\u0000", ""))),
    fc.string({ unit: fc.constantFrom(...SPECIALS, ...(nul ? ["\u0000"] : [])), maxLength: 8 }),
    fc.constantFrom("", "\\N", "\\.", "NULL", "null", "{}", "[]", "a\tb\\nc\r\n")
  )

const json = (s: fc.Arbitrary<string>): fc.Arbitrary<Record<string, unknown>> =>
  fc.dictionary(s, fc.oneof(s, fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(s, { maxLength: 3 })), { maxKeys: 4 })

/** Epoch ms: mostly now-ish with nanosecond fractions, sometimes out of 1900–2199 (COPY's range), halves of a µs. */
export const timeMs: fc.Arbitrary<number> = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }), fc.integer({ min: 0, max: 999_999 })).map(([ms, ns]) => ms + ns / 1e6) },
  { weight: 1, arbitrary: fc.integer({ min: 1_700_000_000_000, max: 1_700_000_001_000 }).map((ms) => ms + 0.0005) },
  { weight: 1, arbitrary: fc.constantFrom(Date.UTC(2300, 0, 1) + 0.25, Date.UTC(1850, 5, 1), 0) }
)

const float = fc.oneof(fc.double(), fc.integer({ min: -1000, max: 1000 }), fc.constantFrom(0.1, -0, 1e21, 5e-324))

export const metricRow = (nul = false): fc.Arbitrary<MetricRow> => {
  const s = awkwardString(nul)
  return fc.record({ name: s, value: float, timeMs, serviceName: s, traceId: fc.option(s), attributes: json(s) })
}

/** A span and its GenAI record (recognised from gen_ai.* attributes, as the ingest stage does), and whether it awaits its parent. */
export type SpanCase = { readonly span: SpanRow; readonly genai: GenaiRecord | undefined; readonly awaiting: boolean }

export const spanCase = (nul = false): fc.Arbitrary<SpanCase> => {
  const s = awkwardString(nul)
  const genaiAttributes = fc.record({
    "gen_ai.operation.name": fc.constantFrom("chat", "execute_tool", "invoke_agent"),
    "gen_ai.request.model": s, "gen_ai.agent.name": s, "gen_ai.tool.name": s,
    "gen_ai.usage.input_tokens": fc.integer({ min: 0, max: 100_000 }), "gen_ai.usage.output_tokens": fc.integer({ min: 0, max: 100_000 })
  }, { requiredKeys: ["gen_ai.operation.name"] })
  return fc.record({
    traceId: s, spanId: s, parentSpanId: fc.option(s), name: s,
    kind: fc.integer({ min: 0, max: 5 }), statusCode: fc.integer({ min: 0, max: 2 }), statusMessage: fc.option(s),
    startTimeMs: timeMs, endTimeMs: timeMs, durationMs: float, serviceName: s, scopeName: fc.option(s),
    resourceAttributes: json(s), attributes: fc.tuple(json(s), fc.option(genaiAttributes)).map(([a, g]) => ({ ...a, ...g })),
    events: fc.array(json(s), { maxLength: 2 }), links: fc.array(json(s), { maxLength: 2 }),
    costUsd: fc.option(fc.double({ min: 0, max: 10, noNaN: true })), awaiting: fc.boolean()
  }).map(({ costUsd, awaiting, ...span }) => {
    const r = recognize(span.attributes, span.statusCode, NOTHING_INHERITED)
    return { span, genai: r === null ? undefined : { ...r, costUsd }, awaiting }
  })
}

/** The same client without COPY: the INSERT path, as in embedded mode. */
export const insertOnly = (db: Queryable): Queryable => ({ query: db.query, exec: db.exec })

/** The same client, counting the COPY statements it runs. */
export const countingCopies = (db: Queryable): { readonly db: Queryable; readonly copies: () => number } => {
  let n = 0
  const copy = db.copyFrom
  return {
    db: copy === undefined ? db : { ...db, copyFrom: (table, columns, rows) => Effect.suspend(() => {
      n++
      return copy(table, columns, rows)
    }) },
    copies: () => n
  }
}

const ORDER = { spans: "trace_id, span_id, start_time", metric_points: "name, time, dedup_key" } as const

/** A tenant's rows of `table` as text (every column but tenant_id), in key order. */
export const storedRows = (db: Queryable, table: keyof typeof ORDER, tenantId: string) =>
  Effect.runPromise(db.query<{ r: string }>(
    `SELECT (to_jsonb(t) - 'tenant_id')::text AS r FROM ${table} t WHERE tenant_id = $1 ORDER BY ${ORDER[table]}`, [tenantId]
  )).then((rows) => rows.map((x) => x.r))
