/**
 * `npx tsx bench/aggregateLate.ts [batches] [lateShare]`: the aggregate stage alone (makeAggregator over the
 * real Redis window store, stored rows in memory), CPU µs per span of this process and of Redis, for
 * the genai scenario's batches and the same spans without their GenAI attributes. As in the end-to-end
 * bench, every batch's spans fall in one or two windows, and those windows close part way through (the
 * wall clock passes their lateness + idle timeout): the batches after that (`lateShare`, 0.4 by
 * default, as the genai scenario's 40 %) are late, each recomputing its windows. Plain and GenAI
 * batches in turns (plain, GenAI, GenAI, plain), each on a tenant of its own.
 */
import { ConfigProvider, Effect, Layer, TestClock, TestContext } from "effect"
import { genaiSeriesPoints } from "../src/aggregation/genaiSeries.ts"
import { makeAggregator } from "../src/aggregation/Aggregator.ts"
import { foldBatch, spanSeriesPoints } from "../src/aggregation/partials.ts"
import { WindowRows } from "../src/aggregation/windowRows.ts"
import { WindowStore } from "../src/aggregation/WindowStore.ts"
import { AppConfig } from "../src/config/AppConfig.ts"
import type { Queryable } from "../src/db/Db.ts"
import type { SpanRow } from "../src/domain/jobs.ts"
import type { AggregateJob } from "../src/domain/pipeline.ts"
import { deriveGenai } from "../src/ingest/genai/derive.ts"
import { decodeTraces } from "../src/ingest/otlp/index.ts"
import { RedisConnection } from "../src/queues/Redis.ts"
import { makeTraceRequest } from "./otlpRequests.ts"
import { deletePrefix, redisPid } from "./service.ts"
import { cpuSecondsOf } from "./stats.ts"

const BATCHES = Number(process.argv[2] ?? 200)
const LATE = Number(process.argv[3] ?? 0.4)
const SPANS = 500
const WINDOW_MS = 10_000
const PRICING = [{ model: "gpt-4o-mini*", inputPerMTok: 0.15, outputPerMTok: 0.6, effectiveFrom: "2024-07-18" }]
const T0 = 1_700_000_000_000
const settings = { allowedLatenessSeconds: 5, idleTimeoutSeconds: 30 }
/** No statement: the bench's traces come whole in a batch (derive asks the database nothing then). */
const noDb = { query: () => Effect.die("aggregateLate: no database") } as unknown as Queryable

const jobsOf = (tenantId: string, genai: boolean) =>
  Effect.gen(function* () {
    const jobs: Array<AggregateJob> = []
    for (let b = 0; b < BATCHES; b++) {
      const spans = decodeTraces(makeTraceRequest(SPANS, T0 + 3_000 + b, false, genai).protobuf, "protobuf").spans as unknown as ReadonlyArray<SpanRow>
      const { records } = yield* deriveGenai(noDb, tenantId, spans, PRICING)
      const points = [...spanSeriesPoints(spans), ...genaiSeriesPoints(spans, records)]
      let maxEventTimeMs = Number.NEGATIVE_INFINITY
      for (const p of points) if (p.timeMs > maxEventTimeMs) maxEventTimeMs = p.timeMs
      jobs.push({ tenantId, sourceJobId: `${tenantId}-${b}`, windowSizeMs: WINDOW_MS, maxEventTimeMs, partials: foldBatch(points, WINDOW_MS) })
    }
    return jobs
  })

const prefix = `bench-late-${process.pid}`

const main = Effect.gen(function* () {
  const rpid = yield* Effect.promise(() => redisPid())
  const aggregator = yield* makeAggregator({ settingsOf: () => Effect.succeed(settings), detect: () => Effect.void, onLate: () => undefined })
  const run = (jobs: ReadonlyArray<AggregateJob>) =>
    Effect.gen(function* () {
      yield* TestClock.setTime(T0)
      const c0 = process.cpuUsage()
      const r0 = rpid === undefined ? undefined : cpuSecondsOf(rpid)
      const closeAt = Math.round(jobs.length * (1 - LATE))
      for (let i = 0; i < jobs.length; i++) {
        // The wall clock passes the windows' end + lateness + idle timeout: the rest of the batches are late.
        if (i === closeAt) yield* TestClock.setTime(T0 + 60_000)
        yield* aggregator.process(jobs[i]!)
      }
      const c = process.cpuUsage(c0)
      const r1 = rpid === undefined ? undefined : cpuSecondsOf(rpid)
      return { service: (c.user + c.system) / (jobs.length * SPANS), redis: r0 === undefined || r1 === undefined ? Number.NaN : (r1 - r0) * 1e6 / (jobs.length * SPANS) }
    })
  const plainA = yield* jobsOf("plain-a", false)
  const genaiA = yield* jobsOf("genai-a", true)
  const genaiB = yield* jobsOf("genai-b", true)
  const plainB = yield* jobsOf("plain-b", false)
  yield* run((yield* jobsOf("warm", true)).slice(0, 40))
  const p1 = yield* run(plainA)
  const g1 = yield* run(genaiA)
  const g2 = yield* run(genaiB)
  const p2 = yield* run(plainB)
  const avg = (a: { service: number; redis: number }, b: typeof a) => ({ service: (a.service + b.service) / 2, redis: (a.redis + b.redis) / 2 })
  const p = avg(p1, p2)
  const g = avg(g1, g2)
  console.log(`aggregate stage, ${BATCHES} batches of ${SPANS} spans per kind and turn, ${Math.round(LATE * 100)} % of them late; CPU µs per span`)
  console.log(`          plain   genai   extra   (partials per batch: ${plainA[0]!.partials.length} / ${genaiA[0]!.partials.length})`)
  console.log(`service ${p.service.toFixed(2).padStart(7)} ${g.service.toFixed(2).padStart(7)} ${(g.service - p.service).toFixed(2).padStart(7)}   (turns: plain ${p1.service.toFixed(2)} / ${p2.service.toFixed(2)}, genai ${g1.service.toFixed(2)} / ${g2.service.toFixed(2)})`)
  console.log(`redis   ${p.redis.toFixed(2).padStart(7)} ${g.redis.toFixed(2).padStart(7)} ${(g.redis - p.redis).toFixed(2).padStart(7)}`)
}).pipe(
  Effect.provide(Layer.merge(WindowStore.Live, WindowRows.Test).pipe(
    Layer.provideMerge(RedisConnection.Live),
    Layer.provideMerge(AppConfig.layer),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries({
      ...process.env, MPLP_QUEUE_PREFIX: prefix, MPLP_ADMIN_TOKEN: "x".repeat(43)
    }).filter((e): e is [string, string] => e[1] !== undefined)))))
  )),
  Effect.provide(TestContext.TestContext),
  Effect.ensuring(Effect.promise(() => deletePrefix(prefix)))
)

void Effect.runPromise(main)
