/**
 * `npx tsx bench/genaiStages.ts [batches]`: where the GenAI derivation's cost goes, stage by stage, in
 * CPU µs per span of this process (every thread, the embedded database's included): the genai
 * scenario's spans (bench/otlpRequests.ts) against the very same spans with their GenAI attributes renamed,
 * through the ingest stage's own functions on a freshly migrated database — derive, insert, loops,
 * the derived series folded and encoded as the aggregate job travels, and the continuous aggregates'
 * refresh (the minutely ones, then the hourly usage one). No HTTP, no queue: the figures are the derivation's own share of the end-to-end path.
 */
import { Effect, Schema } from "effect"
import { genaiSeriesPoints } from "../src/aggregation/genaiSeries.ts"
import { foldBatch, spanSeriesPoints } from "../src/aggregation/partials.ts"
import type { DbClient } from "../src/db/Db.ts"
import type { SpanRow } from "../src/domain/jobs.ts"
import type { SpanRow as DecodedSpan } from "../src/ingest/otlp/index.ts"
import { AggregateJob } from "../src/domain/pipeline.ts"
import { deriveGenai } from "../src/ingest/genai/derive.ts"
import { loopsOf } from "../src/ingest/genai/loops.ts"
import { sanitizeGenai } from "../src/ingest/genai/sanitize.ts"
import { decodeTraces } from "../src/ingest/otlp/index.ts"
import { insertSpans, upsertSpanExecutions } from "../src/ingest/persist.ts"
import { openBenchDb, runScoped } from "./benchDb.ts"
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

const encode = Schema.encodeSync(AggregateJob)
const decode = Schema.decodeUnknownSync(AggregateJob)

const run = (db: DbClient, tenant: string, batches: ReadonlyArray<ReadonlyArray<DecodedSpan>>) =>
  Effect.gen(function* () {
    const cpu: Record<Stage, number> = { sanitize: 0, derive: 0, insert: 0, roots: 0, loops: 0, series: 0, encode: 0, refresh: 0, refresh1h: 0 }
    const timed = <A, E>(stage: Stage, e: Effect.Effect<A, E>) =>
      Effect.suspend(() => {
        const c0 = process.cpuUsage()
        return Effect.tap(e, () => Effect.sync(() => {
          const c = process.cpuUsage(c0)
          cpu[stage] += c.user + c.system
        }))
      })
    let anyAwaiting = false
    for (const decoded of batches) {
      const spans: ReadonlyArray<SpanRow> = yield* timed("sanitize", Effect.sync(() => sanitizeGenai(decoded, false).spans))
      // As the service's Redis flag (src/ingest/genai/awaitingFlag.ts): set once a span is stored before its parent.
      const { awaiting, records: genai, storedCalls: stored } = yield* timed("derive", deriveGenai(db, tenant, spans, PRICING, Effect.sync(() => anyAwaiting)))
      if (awaiting.some((a) => a)) anyAwaiting = true
      yield* timed("insert", insertSpans(db, tenant, spans, genai, awaiting))
      yield* timed("roots", upsertSpanExecutions(db, tenant, spans))
      yield* timed("loops", Effect.sync(() => loopsOf(spans, genai, stored, 25)))
      const partials = yield* timed("series", Effect.sync(() => foldBatch([...spanSeriesPoints(spans), ...genaiSeriesPoints(spans, genai)], 10_000)))
      yield* timed("encode", Effect.sync(() => decode(JSON.parse(JSON.stringify(encode({ tenantId: tenant, sourceJobId: "j", windowSizeMs: 10_000, maxEventTimeMs: 0, partials }))))))
    }
    yield* timed("refresh", Effect.forEach(["span_red_1m", "genai_usage_1m"], (v) => db.query(`CALL refresh_continuous_aggregate('${v}', NULL, now() - INTERVAL '1 minute')`), { discard: true }))
    // The hourly usage aggregate (its hour is over: the spans are 90 minutes old), as its policy or the embedded refresher will.
    yield* timed("refresh1h", db.query(`CALL refresh_continuous_aggregate('genai_usage_1h', NULL, now() - INTERVAL '1 minute')`))
    return cpu
  })

const main = Effect.gen(function* () {
  const db = yield* openBenchDb
  const now = Date.now() - 90 * 60_000
  const make = (offset: number) => Array.from({ length: BATCHES }, (_, b) => decodeTraces(makeTraceRequest(SPANS, now + offset + b * 600, false, true).protobuf, "protobuf").spans)
  // A warm-up of each kind, then the two measured in turns.
  yield* run(db, "warm-g", make(-600_000).slice(0, 4))
  yield* run(db, "warm-p", make(-500_000).slice(0, 4).map((b) => b.map(strip)))
  const genaiBatches = make(0)
  const plainBatches = make(100_000).map((b) => b.map(strip))
  const plain = yield* run(db, "plain", plainBatches)
  const gen = yield* run(db, "genai", genaiBatches)
  const n = BATCHES * SPANS
  console.log("stage      plain µs/span  genai µs/span  extra")
  let tp = 0
  let tg = 0
  for (const s of STAGES) {
    tp += plain[s]
    tg += gen[s]
    console.log(`${s.padEnd(10)} ${(plain[s] / n).toFixed(1).padStart(13)}  ${(gen[s] / n).toFixed(1).padStart(13)}  ${((gen[s] - plain[s]) / n).toFixed(1).padStart(5)}`)
  }
  console.log(`${"total".padEnd(10)} ${(tp / n).toFixed(1).padStart(13)}  ${(tg / n).toFixed(1).padStart(13)}  ${((tg - tp) / n).toFixed(1).padStart(5)}`)
})

void runScoped(main)
