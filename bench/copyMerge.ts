/**
 * `DATABASE_URL=postgres://… npx tsx bench/copyMerge.ts [rounds]`: the ingest stage's COPYs on a TimescaleDB
 * server, each job's own statement against the pool's group commit (src/db/copyCoalescer.ts) with one and
 * with two statements at once (MPLP_DB_COPY_STREAMS), as concurrent jobs send them: 48 batches of 500 spans of the otlp scenario, 4 at once; and 400 batches of 20 metric points
 * (a small tenant's), 8 at once; each pass into a tenant of its own, the three pools in turns (separate, 1, 2, 2, 1,
 * separate per round), with one COPY of a pass's spans as the floor. Per row: the server's CPU µs
 * (bench/dbServerMeter.ts, from /proc) and rows/s. Writes nothing; prints a table.
 */
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import type { DbClient } from "../src/db/Db.ts"
import { makePgPool } from "../src/db/pgPool.ts"
import { decodeTraces } from "../src/ingest/otlp/index.ts"
import { dedupKeys, insertMetricPoints, insertSpans } from "../src/ingest/persist.ts"
import { openBenchDbWithCopy, runScoped } from "./benchDb.ts"
import { SPAN_COLUMNS, spanLines } from "./copyBaseline.ts"
import { metricBatch, rowsOf } from "./data.ts"
import { dbServerCpuReader } from "./dbServerMeter.ts"
import { makeTraceRequest } from "./otlpRequests.ts"
import { summarize } from "./stats.ts"

const ROUNDS = Number(process.argv[2] ?? 3)

const main = Effect.gen(function* () {
  const url = process.env.DATABASE_URL
  if (url === undefined || url === "") return yield* Effect.die("bench/copyMerge.ts measures a server: set DATABASE_URL")
  const { copy } = yield* openBenchDbWithCopy
  const pools: Record<"separate" | "merged" | "merged2", DbClient> = {
    separate: yield* makePgPool(url, 8, 10_000, undefined, "separate"),
    merged: yield* makePgPool(url, 8, 10_000, undefined, 1),
    merged2: yield* makePgPool(url, 8, 10_000, undefined, 2)
  }
  const server = yield* Effect.promise(() => dbServerCpuReader(url))
  if (server === undefined) return yield* Effect.die("the server is not on this machine: its CPU cannot be read")
  const now = Date.now() - 5 * 60_000
  const spanBatches = () => Array.from({ length: 48 }, (_, r) => decodeTraces(makeTraceRequest(500, now + r * 10, false).protobuf, "protobuf").spans)
  const pointBatches = (tenant: string) => Array.from({ length: 400 }, (_, b) => {
    const rows = rowsOf(metricBatch(7, b, 20), now + b)
    return { rows, keys: dedupKeys(rows, "native", `${tenant}.${b}`) }
  })
  const measure = (rows: number, e: Effect.Effect<unknown, unknown>) =>
    Effect.gen(function* () {
      const s0 = server().primary
      const t0 = performance.now()
      yield* e
      const seconds = (performance.now() - t0) / 1000
      return { cpu: ((server().primary - s0) * 1e6) / rows, rate: rows / seconds }
    })
  const spansPass = (db: DbClient) => {
    const tenant = `merge-${randomUUID().slice(0, 8)}`
    const batches = spanBatches()
    return measure(48 * 500, Effect.forEach(batches, (b) => insertSpans(db, tenant, b), { discard: true, concurrency: 4 }))
  }
  const pointsPass = (db: DbClient) => {
    const tenant = `merge-${randomUUID().slice(0, 8)}`
    const batches = pointBatches(tenant)
    return measure(400 * 20, Effect.forEach(batches, (b) => insertMetricPoints(db, tenant, b.rows, b.keys), { discard: true, concurrency: 8 }))
  }
  const onePass = () => {
    const lines = spanLines(`merge-${randomUUID().slice(0, 8)}`, spanBatches().flat())
    return measure(48 * 500, copy.copy("spans", SPAN_COLUMNS, lines))
  }
  // Warm-up: each path once (JIT, the server's caches, today's chunks).
  for (const db of Object.values(pools)) {
    yield* spansPass(db)
    yield* pointsPass(db)
  }
  yield* onePass()
  type Sample = { cpu: number; rate: number }
  const samples = {
    spans: { separate: [] as Array<Sample>, merged: [] as Array<Sample>, merged2: [] as Array<Sample> },
    points: { separate: [] as Array<Sample>, merged: [] as Array<Sample>, merged2: [] as Array<Sample> },
    one: [] as Array<Sample>
  }
  for (let r = 0; r < ROUNDS; r++) {
    samples.one.push(yield* onePass())
    for (const p of ["separate", "merged", "merged2", "merged2", "merged", "separate"] as const) {
      samples.spans[p].push(yield* spansPass(pools[p]))
      samples.points[p].push(yield* pointsPass(pools[p]))
    }
  }
  const fmt = (xs: ReadonlyArray<number>, d: number) => {
    const s = summarize(xs)
    return `${s.median.toFixed(d)} [${s.min.toFixed(d)}–${s.max.toFixed(d)}]`
  }
  const row = (name: string, xs: ReadonlyArray<{ cpu: number; rate: number }>) =>
    console.log(`  ${name.padEnd(52)} ${fmt(xs.map((x) => x.cpu), 1).padEnd(22)} ${fmt(xs.map((x) => x.rate), 0)}`)
  console.log(`bench/copyMerge.ts on ${new Date().toISOString()}: ${ROUNDS} rounds; medians [min–max]`)
  console.log(`  ${"path".padEnd(52)} ${"server CPU µs/row".padEnd(22)} rows/s`)
  row("spans, one COPY of the pass (the floor)", samples.one)
  row("spans, 500-span jobs 4 at once, separate", samples.spans.separate)
  row("spans, 500-span jobs 4 at once, merged (1 stream)", samples.spans.merged)
  row("spans, 500-span jobs 4 at once, merged (2 streams)", samples.spans.merged2)
  row("points, 20-point jobs 8 at once, separate", samples.points.separate)
  row("points, 20-point jobs 8 at once, merged (1 stream)", samples.points.merged)
  row("points, 20-point jobs 8 at once, merged (2 streams)", samples.points.merged2)
})

runScoped(main).then(() => process.exit(0), (e) => {
  console.error(e)
  process.exit(1)
})
