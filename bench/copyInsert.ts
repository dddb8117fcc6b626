/**
 * `DATABASE_URL=postgres://… npx tsx bench/copyInsert.ts [rounds] [batches]`: the ingest stage's insert
 * functions (src/ingest/persist.ts) on a TimescaleDB server, by COPY (the pool's copyFrom) and by the
 * INSERT … unnest they replace (the same client without copyFrom), in turns in one process (old, new,
 * new, old per round), each pass into a tenant of its own so that no row is stored twice. Batches as the
 * bench sends them: 1000 metric points (bench/data.ts), 500 spans of the otlp scenario and of the genai
 * one (bench/otlpRequests.ts, with their GenAI records and awaiting flags derived as the ingest stage
 * does, before the clock); and 20-point batches, a small tenant's. Per row: this process's CPU µs
 * (process.cpuUsage), the CPU µs of the pool's backends (the statements themselves, /proc), of the whole
 * server (its shared processes too, the WAL writer's…, which other databases' work on the server also
 * moves) and of its replica (bench/dbServerMeter.ts), and rows/s.
 */
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import type { DbClient, Queryable } from "../src/db/Db.ts"
import type { MetricRow, SpanRow } from "../src/domain/jobs.ts"
import { deriveGenai } from "../src/ingest/genai/derive.ts"
import type { GenaiRecord } from "../src/ingest/genai/recognize.ts"
import { sanitizeGenai } from "../src/ingest/genai/sanitize.ts"
import { decodeTraces } from "../src/ingest/otlp/index.ts"
import { dedupKeys, insertMetricPoints, insertSpans } from "../src/ingest/persist.ts"
import { openBenchDb, runScoped } from "./benchDb.ts"
import { metricBatch, rowsOf } from "./data.ts"
import { dbServerCpuReader, readProc } from "./dbServerMeter.ts"
import { makeTraceRequest } from "./otlpRequests.ts"

const ROUNDS = Number(process.argv[2] ?? 4)
const BATCHES = Number(process.argv[3] ?? 20)
const PRICING = [{ model: "gpt-4o-mini*", inputPerMTok: 0.15, outputPerMTok: 0.6, effectiveFrom: "2024-07-18" }]

type Path = "INSERT … unnest" | "COPY"
type SpanBatch = { readonly spans: ReadonlyArray<SpanRow>; readonly genai: ReadonlyArray<GenaiRecord | undefined>; readonly awaiting: ReadonlyArray<boolean> }

interface Kind {
  readonly name: string
  readonly rows: number
  /** One pass: every batch of the kind, into `tenant`. */
  readonly pass: (q: Queryable, tenant: string) => Effect.Effect<void, unknown>
}

const metricsKind = (name: string, size: number, batches: number, base: number): Kind => {
  const rows: Array<ReadonlyArray<MetricRow>> = Array.from({ length: batches }, (_, b) => rowsOf(metricBatch(7, b, size), base + b * 1000))
  return {
    name, rows: size * batches,
    pass: (q, tenant) => Effect.forEach(rows, (r, b) => insertMetricPoints(q, tenant, r, dedupKeys(r, "native", `${tenant}.${b}`)), { discard: true })
  }
}

const spansKind = (db: DbClient, name: string, genai: boolean, batches: number, base: number) =>
  Effect.gen(function* () {
    const made: Array<SpanBatch> = []
    for (let b = 0; b < batches; b++) {
      const decoded = decodeTraces(makeTraceRequest(500, base + b * 600, false, genai).protobuf, "protobuf").spans
      const spans = sanitizeGenai(decoded, false).spans
      const { records, awaiting } = yield* deriveGenai(db, `derive-${randomUUID().slice(0, 8)}`, spans, PRICING)
      made.push({ spans, genai: records, awaiting })
    }
    return {
      name, rows: 500 * batches,
      pass: (q, tenant) => Effect.forEach(made, (s) => insertSpans(q, tenant, s.spans, s.genai, s.awaiting), { discard: true })
    } satisfies Kind
  })

/** CPU seconds so far of the pool's backends (this process's connections to the database), by pid. */
const backendCpu = (db: Queryable) =>
  Effect.map(
    db.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'mplp-trace'"),
    (rows) => new Map(rows.map((r) => [r.pid, readProc(r.pid)?.cpu ?? 0]))
  )

/** CPU seconds the backends spent between two readings (a backend opened meanwhile from 0). */
const backendDelta = (a: Map<number, number>, b: Map<number, number>) => {
  let s = 0
  for (const [pid, cpu] of b) s += cpu - (a.get(pid) ?? 0)
  return s
}

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
}

const main = Effect.gen(function* () {
  const url = process.env.DATABASE_URL
  if (url === undefined || url === "") return yield* Effect.die("bench/copyInsert.ts measures a server: set DATABASE_URL")
  const db = yield* openBenchDb
  const server = yield* Effect.promise(() => dbServerCpuReader(url))
  if (db.copyFrom === undefined) return yield* Effect.die("the server's pool has no copyFrom")
  const paths: Record<Path, Queryable> = { "INSERT … unnest": { query: db.query, exec: db.exec }, COPY: db }
  const now = Date.now() - 3 * 3_600_000
  const kinds: Array<Kind> = [
    metricsKind("metric points, 1000-point batches", 1000, BATCHES, now),
    yield* spansKind(db, "spans (otlp scenario), 500-span batches", false, BATCHES, now + 600_000),
    yield* spansKind(db, "GenAI spans (genai scenario), 500-span batches", true, BATCHES, now + 1_200_000),
    metricsKind("metric points, 20-point batches", 20, BATCHES * 10, now + 1_800_000)
  ]
  const lines: Array<string> = [
    `bench/copyInsert.ts on ${new Date().toISOString()}: ${ROUNDS} rounds (INSERT, COPY, COPY, INSERT), ${BATCHES} batches per pass; ` +
      `server CPU ${server === undefined ? "not measured (server not on this machine)" : "from /proc (primary; its streaming replica apart)"}`,
    ""
  ]
  const results: Array<Record<string, unknown>> = []
  for (const kind of kinds) {
    // A warm-up pass of each path (JIT, the server's plan and chunk caches).
    for (const p of ["INSERT … unnest", "COPY"] as const) yield* kind.pass(paths[p], `warm-${randomUUID().slice(0, 8)}`)
    const samples: Record<Path, Array<{ cpu: number; backends: number; primary: number; replica: number; wall: number }>> = { "INSERT … unnest": [], COPY: [] }
    for (let r = 0; r < ROUNDS; r++) {
      for (const p of ["INSERT … unnest", "COPY", "COPY", "INSERT … unnest"] as const) {
        const tenant = `copyb-${randomUUID().slice(0, 8)}`
        const b0 = yield* backendCpu(db)
        const s0 = server?.()
        const c0 = process.cpuUsage()
        const t0 = performance.now()
        yield* kind.pass(paths[p], tenant)
        const wall = (performance.now() - t0) / 1000
        const c = process.cpuUsage(c0)
        const s1 = server?.()
        const b1 = yield* backendCpu(db)
        samples[p].push({
          cpu: (c.user + c.system) / kind.rows,
          backends: (backendDelta(b0, b1) * 1e6) / kind.rows,
          primary: s0 === undefined || s1 === undefined ? Number.NaN : ((s1.primary - s0.primary) * 1e6) / kind.rows,
          replica: s0 === undefined || s1 === undefined ? Number.NaN : ((s1.replica - s0.replica) * 1e6) / kind.rows,
          wall: kind.rows / wall
        })
      }
    }
    lines.push(`${kind.name} (${kind.rows} rows per pass, ${2 * ROUNDS} passes per path; medians, [min–max])`)
    lines.push(`  path              service CPU µs/row     backends CPU µs/row    server CPU µs/row      replica CPU µs/row     rows/s`)
    const fmt = (xs: ReadonlyArray<number>, d = 1) => `${median(xs).toFixed(d)} [${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}]`
    for (const p of ["INSERT … unnest", "COPY"] as const) {
      const s = samples[p]
      lines.push(`  ${p.padEnd(16)}  ${fmt(s.map((x) => x.cpu)).padEnd(21)}  ${fmt(s.map((x) => x.backends)).padEnd(21)}  ${fmt(s.map((x) => x.primary)).padEnd(21)}  ${fmt(s.map((x) => x.replica)).padEnd(21)}  ${fmt(s.map((x) => x.wall), 0)}`)
      results.push({ kind: kind.name, path: p, samples: s })
    }
    lines.push("")
  }
  console.log(lines.join("\n"))
  console.log(JSON.stringify(results))
})

void runScoped(main)
