/**
 * What a spans job costs per span between the API's decoded rows and the insert's parameters, the
 * row form against the columns form (src/domain/spanColumns.ts), without Redis or a database:
 * API side (encode to the job's form + JSON.stringify, as BullMQ writes it) and worker side
 * (JSON.parse + the job decode + rows back + the span insert's array literals, its statement captured).
 * Run: npx tsx bench/spanJobCost.ts [requests=20] [spansPerRequest=1000] [rounds=9]
 */
import { Effect } from "effect"
import type { Queryable } from "../src/db/Db.ts"
import { fastDecoder } from "../src/domain/fastDecode.ts"
import { ingestJobOfWire, IngestJobWire } from "../src/domain/ingestWire.ts"
import type { SpanRow } from "../src/domain/jobs.ts"
import { toSpanColumns } from "../src/domain/spanColumns.ts"
import { decodeTraces } from "../src/ingest/otlp/index.ts"
import { insertSpans } from "../src/ingest/persist.ts"
import { makeTraceRequest } from "./otlpRequests.ts"

const [REQUESTS, SPANS, ROUNDS] = [Number(process.argv[2] ?? 20), Number(process.argv[3] ?? 1000), Number(process.argv[4] ?? 9)]
const batches = Array.from({ length: REQUESTS }, (_, r) => decodeTraces(makeTraceRequest(SPANS, 1_700_000_000_000 + r * 1000, false).protobuf, "protobuf").spans)
const total = batches.reduce((n, b) => n + b.length, 0)

let sink = 0
const capture: Queryable = {
  query: (_text, values = []) => Effect.sync(() => {
    for (const v of values) sink += typeof v === "string" ? v.length : 1
    return []
  }),
  exec: () => Effect.void
}
const fast = fastDecoder(IngestJobWire)!
const job = (spans: ReadonlyArray<SpanRow>) => ({ _tag: "spans" as const, tenantId: "t", receivedAtMs: 1, spans })
const forms = {
  rows: (spans: ReadonlyArray<SpanRow>) => job(spans),
  columns: (spans: ReadonlyArray<SpanRow>) => toSpanColumns(job(spans))
}
const worker = (text: string) => {
  const wire = fast(JSON.parse(text))
  if (wire === undefined) throw new Error("the fast path refused a job the service wrote")
  const j = ingestJobOfWire(wire)
  if (j._tag !== "spans") throw new Error(j._tag)
  Effect.runSync(insertSpans(capture, j.tenantId, j.spans))
}

const samples: Record<string, Array<number>> = {}
const bytes: Record<string, number> = {}
for (let round = 0; round < ROUNDS + 2; round++) {
  for (const [form, encode] of Object.entries(forms)) {
    let t0 = process.hrtime.bigint()
    const texts = batches.map((b) => JSON.stringify(encode(b)))
    const api = Number(process.hrtime.bigint() - t0) / total
    t0 = process.hrtime.bigint()
    for (const t of texts) worker(t)
    const work = Number(process.hrtime.bigint() - t0) / total
    bytes[form] = texts.reduce((n, t) => n + t.length, 0) / total
    if (round < 2) continue
    ;(samples[`${form} api`] ??= []).push(api)
    ;(samples[`${form} worker`] ??= []).push(work)
  }
}
const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
console.log(`${REQUESTS} batches x ${SPANS} spans; job JSON per span: rows ${bytes.rows!.toFixed(0)} B, columns ${bytes.columns!.toFixed(0)} B`)
for (const [k, xs] of Object.entries(samples)) console.log(`${k.padEnd(16)} median ${median(xs).toFixed(0).padStart(6)} ns/span   best ${Math.min(...xs).toFixed(0).padStart(6)}`)
console.log(`(checksum ${sink})`)
