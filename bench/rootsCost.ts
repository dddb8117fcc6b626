/**
 * `DATABASE_URL=postgres://… npx tsx bench/rootsCost.ts [rounds] [batches] [fill]`: what a root span's
 * execution costs the ingest stage on a TimescaleDB server (without DATABASE_URL: the embedded database,
 * in process, its CPU in the client's column), the statement before migrations/0014 (a
 * probe of executions by trace id per root, every chunk of the hypertable) against upsertSpanExecutions
 * (a claim in execution_traces), in turns in one process (before, after, after, before per round),
 * each pass into a tenant of its own with trace ids of its own. A pass stores `batches` 500-span
 * batches of the otlp scenario (bench/otlpRequests.ts: one root per 4 spans) as the stage does: the
 * spans (insertSpans, by COPY), then their roots' executions. Per phase: the CPU of the pool's backends
 * (/proc/<pid>/schedstat, read by a connection of its own that is not counted) and this process's CPU
 * (process.cpuUsage), per root span and per span.
 * `fill`: executions spread over the past 60 days (one chunk a day; ROOTS_FILL_DAYS sets the days) stored
 * first by other tenants, as a service that has run for two months holds (default 240000; 0 stores none: a new database).
 * ROOTS_ESTABLISHED=1: each pass stores into one of the fill's 20 tenants (in turn) instead of a new one, as a
 * tenant that has run for a while stores: an index led by the tenant then spans all of its executions (a new
 * tenant's few rows sit in a few pages of any index, whatever follows the tenant in its key).
 */
import { Effect } from "effect"
import { randomBytes, randomUUID } from "node:crypto"
import pg from "pg"
import type { Queryable } from "../src/db/Db.ts"
import type { SpanRow } from "../src/domain/jobs.ts"
import { decodeTraces } from "../src/ingest/otlp/index.ts"
import { float8Array, jsonArray, textArray, textArrayOf, textElement } from "../src/ingest/pgArrays.ts"
import { insertSpans, upsertSpanExecutions } from "../src/ingest/persist.ts"
import { openBenchDb, runScoped } from "./benchDb.ts"
import { readCpuNs } from "./dbServerMeter.ts"
import { makeTraceRequest } from "./otlpRequests.ts"

const ROUNDS = Number(process.argv[2] ?? 6)
const BATCHES = Number(process.argv[3] ?? 20)
const FILL = Number(process.argv[4] ?? 240_000)
/** Over how many days the fill spreads (ROOTS_FILL_DAYS, default 60: a chunk a day; 0.1: all in today's chunk, as a busy day holds). */
const FILL_DAYS = Number(process.env.ROOTS_FILL_DAYS ?? 60)
const ESTABLISHED = process.env.ROOTS_ESTABLISHED === "1"

type Variant = "before" | "after"

const FAILED = textElement("failed")
const COMPLETED = textElement("completed")

/** upsertSpanExecutions as it was before migrations/0014 (commit 1782a04), word for word. */
const upsertBefore = (tx: Queryable, tenantId: string, spans: ReadonlyArray<SpanRow>) => {
  const roots = spans.filter((s) => s.parentSpanId === null)
  if (roots.length === 0) return Effect.void
  return tx.query(
    `INSERT INTO executions (tenant_id, trace_id, span_id, execution_id, operation_name, service_name, status, source, start_time, end_time,
                             duration_ms, metadata, last_seq)
     SELECT $1, tr, sp, tr, n, sv, st, 'otlp', to_timestamp(s / 1000.0), to_timestamp(e / 1000.0), d, a::jsonb, 0
     FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::float8[], $9::float8[], $10::text[])
          AS u(tr, sp, n, sv, st, s, e, d, a)
     WHERE NOT EXISTS (SELECT 1 FROM executions x WHERE x.trace_id = u.tr AND (x.tenant_id = $1) IS TRUE OFFSET 0)
     ON CONFLICT DO NOTHING`,
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

const upserts: Record<Variant, typeof upsertBefore> = { before: upsertBefore, after: upsertSpanExecutions }

/** Other tenants' executions over the past FILL_DAYS days, registered as migrations/0014 registers them. */
const fill = (db: Queryable, n: number) =>
  Effect.gen(function* () {
    const [have] = yield* db.query<{ n: number }>("SELECT count(*)::int AS n FROM executions WHERE tenant_id LIKE 'fill-%'")
    if (n === 0 || Number(have?.n ?? 0) >= n) return
    yield* db.exec(`
      INSERT INTO executions (tenant_id, trace_id, span_id, execution_id, operation_name, service_name, status, source, start_time, end_time, duration_ms, metadata, last_seq)
      SELECT 'fill-' || (i % 20), md5('fill' || i), left(md5('s' || i), 16), md5('fill' || i), 'GET /api/cart/:id', 'checkout', 'completed', 'otlp',
             now() - interval '${FILL_DAYS} days' * (i / ${n}.0), now() - interval '${FILL_DAYS} days' * (i / ${n}.0) + interval '1 second', 1000,
             jsonb_build_object('http.request.method', 'GET', 'http.route', '/api/cart/:id', 'url.path', '/api/cart/' || i, 'http.response.status_code', 200), 0
      FROM generate_series(1, ${n}) i ON CONFLICT DO NOTHING;
      INSERT INTO execution_traces (tenant_id, trace_id) SELECT tenant_id, trace_id FROM executions WHERE tenant_id LIKE 'fill-%' ON CONFLICT DO NOTHING;
      ANALYZE executions; ANALYZE execution_traces`)
  })

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

const main = Effect.gen(function* () {
  const url = process.env.DATABASE_URL ?? ""
  const db = yield* openBenchDb
  yield* fill(db, FILL)
  // The meter's own connection: its queries run in a backend that is not counted. Embedded (no
  // DATABASE_URL) the database runs in this process: its CPU is in the client's column.
  const meter = url === "" ? undefined : new pg.Client({ connectionString: url, application_name: "roots-meter" })
  if (meter !== undefined) yield* Effect.acquireRelease(Effect.promise(() => meter.connect()), () => Effect.promise(() => meter.end()))
  const backendsNs = Effect.promise(async () => {
    if (meter === undefined) return new Map<number, number>()
    const rows = (await meter.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'mplp-trace'"
    )).rows
    return new Map(rows.map((r) => [r.pid, readCpuNs(r.pid) ?? 0]))
  })
  const deltaUs = (a: Map<number, number>, b: Map<number, number>) => {
    let s = 0
    for (const [pid, ns] of b) s += ns - (a.get(pid) ?? 0)
    return s / 1000
  }
  const base = Date.now() - 3 * 3_600_000
  const batches: Array<ReadonlyArray<SpanRow>> = Array.from({ length: BATCHES }, (_, b) =>
    decodeTraces(makeTraceRequest(500, base + b * 600, false, false).protobuf, "protobuf").spans)
  const spansPerPass = batches.reduce((n, b) => n + b.length, 0)
  const rootsPerPass = batches.reduce((n, b) => n + b.filter((s) => s.parentSpanId === null).length, 0)
  // Trace ids of the pass's own (the same ids in two tenants would be found by the old probe's index and
  // filtered), random as W3C trace ids are: ids sharing a prefix would land side by side in every index on them.
  const ofPass = () => {
    const ids = new Map<string, string>()
    const id = (t: string) => {
      let x = ids.get(t)
      if (x === undefined) ids.set(t, (x = randomBytes(16).toString("hex")))
      return x
    }
    return batches.map((b) => b.map((s) => ({ ...s, traceId: id(s.traceId) })))
  }
  const [chunks] = yield* db.query<{ n: number }>("SELECT count(*)::int AS n FROM show_chunks('executions')")
  const [rows] = yield* db.query<{ n: number }>("SELECT count(*)::int AS n FROM executions")
  const samples: Record<Variant, Array<{ rootsBackend: number; rootsClient: number; spansBackend: number; spansClient: number; rootsWallMs: number; rootsWal: number }>> = { before: [], after: [] }
  // The server's WAL position (bytes), read by the meter: what a phase wrote to the WAL (and a replica replays).
  const walBytes = Effect.promise(async () =>
    meter === undefined ? 0 : Number((await meter.query<{ b: string }>("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::text AS b")).rows[0]?.b ?? 0))
  let passes = 0
  const pass = (v: Variant, record: boolean) =>
    Effect.gen(function* () {
      const tenant = ESTABLISHED ? `fill-${passes++ % 20}` : `roots-${randomUUID().slice(0, 8)}`
      const data = ofPass()
      let rootsBackend = 0, rootsClient = 0, spansBackend = 0, spansClient = 0, rootsWall = 0, rootsWal = 0
      for (const spans of data) {
        const b0 = yield* backendsNs
        const c0 = process.cpuUsage()
        yield* insertSpans(db, tenant, spans)
        const c1 = process.cpuUsage()
        const b1 = yield* backendsNs
        const w1 = yield* walBytes
        const c2 = process.cpuUsage()
        const t0 = performance.now()
        yield* upserts[v](db, tenant, spans)
        rootsWall += performance.now() - t0
        const c3 = process.cpuUsage()
        const b2 = yield* backendsNs
        rootsWal += (yield* walBytes) - w1
        spansBackend += deltaUs(b0, b1)
        rootsBackend += deltaUs(b1, b2)
        spansClient += c1.user + c1.system - c0.user - c0.system
        rootsClient += c3.user + c3.system - c2.user - c2.system
      }
      const [stored] = yield* db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM executions WHERE tenant_id = $1 AND trace_id = ANY($2::text[])",
        [tenant, [...new Set(data.flatMap((b) => b.map((s) => s.traceId)))]]
      )
      if (Number(stored?.n) !== rootsPerPass) return yield* Effect.die(`${v}: ${stored?.n} executions for ${rootsPerPass} roots`)
      if (record) samples[v].push({ rootsBackend, rootsClient, spansBackend, spansClient, rootsWallMs: rootsWall, rootsWal })
    })
  // A warm-up pass of each (JIT, the server's plan and relation caches).
  yield* pass("before", false)
  yield* pass("after", false)
  for (let r = 0; r < ROUNDS; r++) for (const v of ["before", "after", "after", "before"] as const) yield* pass(v, true)

  const fmt = (xs: ReadonlyArray<number>, d = 1) => `${median(xs).toFixed(d)} [${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}]`
  const lines = [
    `bench/rootsCost.ts on ${new Date().toISOString()}: ${ROUNDS} rounds (before, after, after, before), ${BATCHES} batches of 500 spans ` +
      `(${rootsPerPass} root spans, ${spansPerPass} spans) per pass; executions table: ${rows?.n} rows in ${chunks?.n} chunks at the start`,
    (meter === undefined
      ? "embedded database (in process: its CPU is in the client's column, backends 0)"
      : "CPU from /proc/<pid>/schedstat of the pool's backends") + `, this process's from process.cpuUsage; medians [min–max] of ${2 * ROUNDS} passes per variant`,
    "",
    "  variant  roots: backends µs/root   client µs/root    wall ms/pass     | spans: backends µs/span  client µs/span | spans+roots: backends µs/span (embedded: client) | roots: WAL bytes/root",
    ...(["before", "after"] as const).map((v) => {
      const s = samples[v]
      return `  ${v.padEnd(7)}  ${fmt(s.map((x) => x.rootsBackend / rootsPerPass)).padEnd(22)}  ${fmt(s.map((x) => x.rootsClient / rootsPerPass)).padEnd(16)}  ` +
        `${fmt(s.map((x) => x.rootsWallMs), 0).padEnd(15)}  | ${fmt(s.map((x) => x.spansBackend / spansPerPass)).padEnd(22)}  ${fmt(s.map((x) => x.spansClient / spansPerPass)).padEnd(14)} | ` +
        fmt(s.map((x) => (meter === undefined ? x.spansClient + x.rootsClient : x.spansBackend + x.rootsBackend) / spansPerPass)).padEnd(22) +
        ` | ${meter === undefined ? "—" : fmt(s.map((x) => x.rootsWal / rootsPerPass), 0)}`
    })
  ]
  console.log(lines.join("\n"))
  console.log(JSON.stringify(samples))
})

void runScoped(main)
