/**
 * Decode cost per span, OTLP/protobuf vs OTLP/JSON, for requests built by the OpenTelemetry JS SDK's
 * own serializers. Run: npx tsx bench/otlp-decode.ts [requests=100] [spansPerRequest=1000] [--json]
 * V8 sometimes decides early on to pretenure the decoder's objects (allocate them in old space),
 * which makes the protobuf figures GC-bound and 2-3x worse for that run; for steady numbers run
 * node --no-allocation-site-pretenuring --import tsx bench/otlp-decode.ts
 * `--json` prints the measurement as one JSON line instead (what `npm run bench` reads).
 */
import { measureDecode } from "./decodeCost.ts"
import { makeTraceRequest } from "./otlpRequests.ts"

const args = process.argv.slice(2).filter((a) => a !== "--json")
const asJson = process.argv.includes("--json")
const REQUESTS = Number(args[0] ?? 100)
const SPANS = Number(args[1] ?? 1000)

const requests = Array.from({ length: REQUESTS }, (_, r) => makeTraceRequest(SPANS, 1_700_000_000_000 + r * 1000))
const result = measureDecode(requests)

if (asJson) {
  console.log(JSON.stringify(result))
} else {
  const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!
  const m = (c: number) => median(result.cases[c]!.samples)
  console.log(`${REQUESTS} requests x ${SPANS} spans; ${result.protobufBytesPerSpan.toFixed(0)} B/span protobuf, ${result.jsonBytesPerSpan.toFixed(0)} B/span JSON`)
  console.log(`${"".padEnd(46)} median ns/span   best`)
  for (const c of result.cases) {
    console.log(`${c.label.padEnd(46)} ${median(c.samples).toFixed(0).padStart(8)} ${Math.min(...c.samples).toFixed(0).padStart(8)}`)
  }
  console.log(`protobuf decode+normalise is ${(m(1) / m(0)).toFixed(2)}x faster than the JSON path, ` +
    `${(m(3) / m(0)).toFixed(2)}x faster than utf8 + JSON.parse alone`)
  if (result.sink !== result.expectedSink) console.log(`unexpected output count ${result.sink}`)
}
