/**
 * `npx tsx bench/genaiStages.ts [batches]`: where the GenAI derivation's cost goes, stage by stage, in
 * CPU µs per span of this process (every thread, the embedded database's included): the genai
 * scenario's spans (bench/otlpRequests.ts) against the very same spans with their GenAI attributes renamed,
 * through the ingest stage's own functions on a freshly migrated database — derive, insert, loops,
 * the derived series folded and encoded as the aggregate job travels, and the continuous aggregates'
 * refresh (the minutely ones, then the hourly usage one). No HTTP, no queue: the figures are the derivation's own share of the end-to-end path.
 */
import { Effect, Schema } from "effect"
import { genaiSeriesInto } from "../src/aggregation/genaiSeries.ts"
import { makeBatchFold, spanSeriesInto } from "../src/aggregation/partials.ts"
import type { DbClient } from "../src/db/Db.ts"
import type { SpanRow } from "../src/domain/jobs.ts"
import type { SpanRow as DecodedSpan } from "../src/ingest/otlp/index.ts"
import { AggregateJob } from "../src/domain/pipeline.ts"
import { fastDecoder } from "../src/domain/fastDecode.ts"
import { jobEncoder } from "../src/queues/Queues.ts"
import { deriveGenai, settleAwaiting, storedLoopCalls } from "../src/ingest/genai/derive.ts"
import { loopsOf } from "../src/ingest/genai/loops.ts"
import { sanitizeGenai } from "../src/ingest/genai/sanitize.ts"
import { decodeTraces } from "../src/ingest/otlp/index.ts"
import { insertSpans, upsertSpanExecutions } from "../src/ingest/persist.ts"
import { openBenchDb, refreshAggregate, runScoped } from "./benchDb.ts"
import { dbServerCpuOfEnv } from "./dbServerMeter.ts"
import type { DbServerCpu } from "./dbServerMeter.ts"
import { makeTraceRequest } from "./otlpRequests.ts"

const BATCHES = Number(process.argv[2] ?? 40)
const SPANS = 500
const PRICING = [{ model: "gpt-4o-mini*", inputPerMTok: 0.15, outputPerMTok: 0.6, effectiveFrom: "2024-07-18" }]
// The same attributes under other names (as many, as long): the spans cost the same to store, but say nothing of GenAI.
const RENAMED: ReadonlyArray<readonly [string, string]> = [["gen_ai.", "x_ai.ai."], ["user.id", "usr.id"]]
const strip = (s: DecodedSpan): DecodedSpan => ({
  ...s,
  attributes: Object.fromEntries(Object.entries(s.attributes).map(([k, v]) => {
    const r = RENAMED.find(([from]) => k.startsWith(from))
    return [r === undefined ? k : r[1] + k.slice(r[0].length), v]
  }))
})

type Stage = "sanitize" | "derive" | "insert" | "roots" | "loops" | "series" | "encode" | "refresh" | "refresh1h"
const STAGES: ReadonlyArray<Stage> = ["sanitize", "derive", "insert", "roots", "loops", "series", "encode", "refresh", "refresh1h"]

// As the stages do: the producer's encoder and the worker's decoder take the fast path (src/domain/fastDecode.ts)
// when it vouches for the job, the schema's own only when it does not.
const encode = jobEncoder(AggregateJob)
const fast = fastDecoder(AggregateJob)
const slow = Schema.decodeUnknownSync(AggregateJob)
const decode = (u: unknown) => fast?.(u) ?? slow(u)

/** A TimescaleDB server's CPU seconds so far (DATABASE_URL, on this machine), its replicas' included. */
type ServerCpu = DbServerCpu | undefined
const zero = (): Record<Stage, number> => ({ sanitize: 0, derive: 0, insert: 0, roots: 0, loops: 0, series: 0, encode: 0, refresh: 0, refresh1h: 0 })

const run = (db: DbClient, tenant: string, batches: ReadonlyArray<ReadonlyArray<DecodedSpan>>, serverCpu: ServerCpu) =>
  Effect.gen(function* () {
    const cpu = zero()
    // The server's CPU µs per stage (its clock ticks are 10 ms: summed over the batches, the stage's share).
    const server = zero()
    const serverNow = () => {
      const c = serverCpu?.()
      return c === undefined ? 0 : (c.primary + c.replica) * 1e6
    }
    const timed = <A, E>(stage: Stage, e: Effect.Effect<A, E>) =>
      Effect.suspend(() => {
        const s0 = serverNow()
        const c0 = process.cpuUsage()
        return Effect.tap(e, () => Effect.sync(() => {
          const c = process.cpuUsage(c0)
          cpu[stage] += c.user + c.system
          server[stage] += serverNow() - s0
        }))
      })
    let anyAwaiting = false
    for (const decoded of batches) {
      const spans: ReadonlyArray<SpanRow> = yield* timed("sanitize", Effect.sync(() => sanitizeGenai(decoded, false).spans))
      // As the service's Redis flag (src/ingest/genai/awaitingFlag.ts): set once a span is stored before its parent.
      const derived = yield* timed("derive", deriveGenai(db, tenant, spans, PRICING))
      const { awaiting, records: genai } = derived
      if (awaiting.some((a) => a)) anyAwaiting = true
      yield* timed("insert", insertSpans(db, tenant, spans, genai, awaiting))
      const stored = yield* timed("derive", settleAwaiting(db, tenant, spans, derived, Effect.sync(() => anyAwaiting)).pipe(
        Effect.flatMap((adopting) => storedLoopCalls(db, tenant, spans, derived, adopting))))
      yield* timed("roots", upsertSpanExecutions(db, tenant, spans))
      yield* timed("loops", Effect.sync(() => loopsOf(spans, genai, stored, 25)))
      // As the ingest stage folds them (src/ingest/IngestStage.ts handOff): into a sink, no point objects.
      const partials = yield* timed("series", Effect.sync(() => {
        const fold = makeBatchFold(10_000)
        spanSeriesInto(fold.add, spans)
        genaiSeriesInto(fold.add, spans, genai)
        return fold.result().map((g) => g.partial)
      }))
      yield* timed("encode", Effect.sync(() => decode(JSON.parse(JSON.stringify(encode({ tenantId: tenant, sourceJobId: "j", windowSizeMs: 10_000, maxEventTimeMs: 0, partials }))))))
    }
    yield* timed("refresh", refreshAggregate(db, "spans_1m", "1 minute"))
    // The hourly usage aggregate (its hour is over: the spans are 90 minutes old), as its policy or the embedded refresher will.
    yield* timed("refresh1h", refreshAggregate(db, "genai_usage_1h", "1 minute"))
    return { cpu, server }
  })

const main = Effect.gen(function* () {
  const db = yield* openBenchDb
  const now = Date.now() - 90 * 60_000
  const make = (offset: number) => Array.from({ length: BATCHES }, (_, b) => decodeTraces(makeTraceRequest(SPANS, now + offset + b * 600, false, true).protobuf, "protobuf").spans)
  // A warm-up of each kind, then the two measured in turns.
  const serverCpu: ServerCpu = yield* Effect.promise(dbServerCpuOfEnv)
  yield* run(db, "warm-g", make(-600_000).slice(0, 4), serverCpu)
  yield* run(db, "warm-p", make(-500_000).slice(0, 4).map((b) => b.map(strip)), serverCpu)
  const genaiBatches = make(0)
  const plainBatches = make(100_000).map((b) => b.map(strip))
  // In turns (plain, GenAI, GenAI, plain): what the database does in the background (a policy's refresh,
  // autovacuum) and a table's growth fall on both kinds alike.
  const half = Math.floor(BATCHES / 2)
  const sum = (a: { cpu: Record<Stage, number>; server: Record<Stage, number> }, b: typeof a) => ({
    cpu: Object.fromEntries(STAGES.map((s) => [s, a.cpu[s] + b.cpu[s]])) as Record<Stage, number>,
    server: Object.fromEntries(STAGES.map((s) => [s, a.server[s] + b.server[s]])) as Record<Stage, number>
  })
  const plain1 = yield* run(db, "plain", plainBatches.slice(0, half), serverCpu)
  const gen1 = yield* run(db, "genai", genaiBatches.slice(0, half), serverCpu)
  const gen2 = yield* run(db, "genai2", genaiBatches.slice(half), serverCpu)
  const plain2 = yield* run(db, "plain2", plainBatches.slice(half), serverCpu)
  const plain = sum(plain1, plain2)
  const gen = sum(gen1, gen2)
  const n = BATCHES * SPANS
  const table = (what: string, p: Record<Stage, number>, g: Record<Stage, number>) => {
    console.log(`${what}\nstage      plain µs/span  genai µs/span  extra`)
    let tp = 0
    let tg = 0
    for (const s of STAGES) {
      tp += p[s]
      tg += g[s]
      console.log(`${s.padEnd(10)} ${(p[s] / n).toFixed(1).padStart(13)}  ${(g[s] / n).toFixed(1).padStart(13)}  ${((g[s] - p[s]) / n).toFixed(1).padStart(5)}`)
    }
    console.log(`${"total".padEnd(10)} ${(tp / n).toFixed(1).padStart(13)}  ${(tg / n).toFixed(1).padStart(13)}  ${((tg - tp) / n).toFixed(1).padStart(5)}`)
  }
  table("this process (CPU µs per span)", plain.cpu, gen.cpu)
  if (serverCpu !== undefined) table("\nthe database server and its replica (CPU µs per span)", plain.server, gen.server)
})

void runScoped(main)
