import { decodeTraces } from "../src/ingest/otlp/index.ts"
import { decodeJsonTraceRequest } from "../src/ingest/otlp/json.ts"
import { decodeTraceRequest } from "../src/ingest/otlp/protobuf.ts"
import { makeRejections } from "../src/ingest/otlp/types.ts"
import type { TraceRequest } from "./otlpRequests.ts"

export interface DecodeCase {
  readonly label: string
  /** ns per span, one sample per measured round. */
  readonly samples: ReadonlyArray<number>
}

export interface DecodeCost {
  readonly requests: number
  readonly spansPerRequest: number
  readonly protobufBytesPerSpan: number
  readonly jsonBytesPerSpan: number
  readonly cases: ReadonlyArray<DecodeCase>
  /** Checksum of the decoders' outputs; anything but `expectedSink` means a decoder dropped spans. */
  readonly sink: number
  readonly expectedSink: number
}

export const ROUNDS = 9
export const WARMUP_ROUNDS = 2

/**
 * Decode cost per span of the same requests as OTLP/protobuf and OTLP/JSON. Rounds interleave the
 * cases so that load from other processes hits them all alike; results are dropped at once, as in
 * the server, since retaining 100k decoded spans makes GC dominate.
 */
export const measureDecode = (requests: ReadonlyArray<TraceRequest>): DecodeCost => {
  const utf8 = new TextDecoder()
  const n = requests.length
  const totalSpans = requests.reduce((s, r) => s + r.spans, 0)
  const parse = (i: number): unknown => JSON.parse(utf8.decode(requests[i]!.json))
  // Each returns something derived from its output so that nothing is optimised away.
  const cases: ReadonlyArray<readonly [string, (i: number) => number]> = [
    ["protobuf: decode + normalise (decodeTraces)", (i) => decodeTraces(requests[i]!.protobuf, "protobuf").spans.length],
    ["json: utf8 + JSON.parse + decode + normalise", (i) => decodeTraces(parse(i), "json").spans.length],
    ["  protobuf: wire decode only", (i) => decodeTraceRequest(requests[i]!.protobuf).resourceSpans.length],
    ["  json: utf8 + JSON.parse only", (i) => (parse(i) === null ? 0 : 1)],
    ["  json: utf8 + JSON.parse + shape decode", (i) => decodeJsonTraceRequest(parse(i), makeRejections()).resourceSpans.length]
  ]
  const samples = cases.map((): Array<number> => [])
  let sink = 0
  for (let round = 0; round < ROUNDS; round++) {
    cases.forEach(([, f], c) => {
      const t0 = process.hrtime.bigint()
      for (let i = 0; i < n; i++) sink += f(i)
      if (round >= WARMUP_ROUNDS) samples[c]!.push(Number(process.hrtime.bigint() - t0) / totalSpans)
    })
  }
  const bytes = (k: "protobuf" | "json") => requests.reduce((s, r) => s + r[k].length, 0) / totalSpans
  return {
    requests: n,
    spansPerRequest: n === 0 ? 0 : totalSpans / n,
    protobufBytesPerSpan: bytes("protobuf"),
    jsonBytesPerSpan: bytes("json"),
    cases: cases.map(([label], c) => ({ label, samples: samples[c]! })),
    sink,
    expectedSink: ROUNDS * (2 * totalSpans + 3 * n)
  }
}
