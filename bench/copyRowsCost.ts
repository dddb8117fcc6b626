/**
 * What building a batch's COPY text costs the ingest stage per row (src/ingest/persist.ts, CopyRows), without
 * a database: insertSpans over 500-span batches of the otlp scenario and insertMetricPoints over 1,000-point
 * batches, against a Queryable whose copyFrom only takes the bytes. CPU µs per row of this process, per round.
 * Run: npx tsx bench/copyRowsCost.ts [batchesPerRound=400] [rounds=7]
 */
import { Effect } from "effect"
import type { Queryable } from "../src/db/Db.ts"
import { decodeTraces } from "../src/ingest/otlp/index.ts"
import { dedupKeys, insertMetricPoints, insertSpans } from "../src/ingest/persist.ts"
import { metricBatch, rowsOf } from "./data.ts"
import { makeTraceRequest } from "./otlpRequests.ts"

const [BATCHES, ROUNDS] = [Number(process.argv[2] ?? 400), Number(process.argv[3] ?? 7)]

let bytes = 0
const takeBytes: Queryable = {
  query: () => Effect.succeed([]),
  exec: () => Effect.void,
  copyFrom: (_table, _columns, data) => Effect.sync(() => void (bytes += data.length))
}
const spans = decodeTraces(makeTraceRequest(500, Date.now(), false).protobuf, "protobuf").spans
const points = rowsOf(metricBatch(1, 0, 1000), Date.now())
const keys = dedupKeys(points, "native", "bench-job")

const kinds = [
  { name: "spans (otlp scenario), 500 per batch", rows: spans.length, insert: () => insertSpans(takeBytes, "bench", spans) },
  { name: "metric points, 1,000 per batch", rows: points.length, insert: () => insertMetricPoints(takeBytes, "bench", points, keys) }
]
for (const k of kinds) {
  for (let i = 0; i < BATCHES / 2; i++) Effect.runSync(k.insert()) // warm-up
  const perRow: Array<number> = []
  for (let r = 0; r < ROUNDS; r++) {
    bytes = 0
    const start = process.cpuUsage()
    for (let i = 0; i < BATCHES; i++) Effect.runSync(k.insert())
    const used = process.cpuUsage(start)
    perRow.push((used.user + used.system) / (BATCHES * k.rows))
  }
  perRow.sort((a, b) => a - b)
  const median = perRow[Math.floor(perRow.length / 2)]!
  console.log(`${k.name}: ${median.toFixed(2)} µs per row (median of ${ROUNDS}; ${perRow.map((x) => x.toFixed(2)).join(" ")}), ${(bytes / (BATCHES * k.rows)).toFixed(0)} bytes of COPY text per row`)
}
