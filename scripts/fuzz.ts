/**
 * The fuzzers of issue #13, for long runs (`npm test` runs a bounded few hundred of each):
 *   npm run fuzz -- --runs 1000000 --target decoders   the OTLP decoders in process (protobuf and JSON)
 *   npm run fuzz -- --runs 20000 --target http          every endpoint of the real HTTP server
 * Inputs are fast-check arbitraries (tests/fuzz/inputs.ts): OTLP and native requests built from models,
 * valid and hostile, then mutated. A decoder failure is an exception other than OtlpDecodeError or a
 * row that could not be stored; an HTTP failure is a 5xx, or an accepted batch whose ingest job fails.
 * Prints inputs tried, crashes and 5xx; exits 1 when any was found.
 */
import fc from "fast-check"
import { parseArgs } from "node:util"
import { drained, withIngestQueue } from "../tests/api/queue.ts"
import { checkDecoders, decoderInput } from "../tests/fuzz/check.ts"
import { httpCase, send } from "../tests/fuzz/http.ts"
import { ADMIN_TOKEN, call, startApp } from "../tests/support/harness.ts"

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "10000" },
    target: { type: "string", default: "all" },
    seed: { type: "string" },
    concurrency: { type: "string", default: "4" }
  },
  strict: true
})
const runs = Number(values.runs)
const concurrency = Number(values.concurrency)
const seed = values.seed === undefined ? Date.now() % 2 ** 31 : Number(values.seed)
if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs must be a positive integer")
if (!["all", "decoders", "http"].includes(values.target)) throw new Error("--target must be decoders, http or all")
if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error("--concurrency must be a positive integer")

const BATCH = 2_000
const examples = (m: Map<string, number>) => [...m].sort((a, b) => (a[0].includes("waits for step") ? 1 : 0) - (b[0].includes("waits for step") ? 1 : 0)).slice(0, 10).map(([k, n]) => `  ${n} x ${k}`).join("\n")

const fuzzDecoders = () => {
  const t0 = Date.now()
  let tried = 0
  let crashes = 0
  let unstorable = 0
  const found = new Map<string, number>()
  for (let b = 0; tried < runs; b++) {
    for (const input of fc.sample(decoderInput, { numRuns: Math.min(BATCH, runs - tried), seed: seed + b })) {
      tried++
      const problem = checkDecoders(input)
      if (problem === undefined) continue
      if (problem.startsWith("crashed")) crashes++
      else unstorable++
      const key = `${problem.slice(0, 160)} (${input.signal}/${input.format})`
      found.set(key, (found.get(key) ?? 0) + 1)
    }
    if (b % 50 === 49) console.log(`  decoders: ${tried} inputs, ${crashes} crashes, ${unstorable} unstorable rows (${((Date.now() - t0) / 1000).toFixed(0)} s)`)
  }
  console.log(`decoders: ${tried} inputs in ${((Date.now() - t0) / 1000).toFixed(1)} s, seed ${seed}: ${crashes} crashes, ${unstorable} unstorable rows accepted`)
  if (found.size > 0) console.log(examples(found))
  return crashes + unstorable
}

const fuzzHttp = async () => {
  const app = await startApp({}, { MPLP_MAX_BACKLOG: "10000000" })
  try {
    const t = await app.tenant(["ingest", "query"], { quotas: { requestsPerSecond: 1_000_000, pointsPerSecond: 100_000_000, bytesPerSecond: 10_000_000_000 } })
    const victim = await app.tenant()
    const started = await call(app, t.key, "POST", "/api/executions", { operationName: "fuzz", serviceName: "fuzz", context: { contextId: "c", userId: "u" } })
    const targets = { traceId: ((await started.json()) as { traceId: string }).traceId, victim: victim.id }
    const keys = { tenant: t.key, admin: ADMIN_TOKEN }
    const t0 = Date.now()
    const statuses = new Map<number, number>()
    const errors = new Map<string, number>()
    let tried = 0
    for (let b = 0; tried < runs; b++) {
      const cases = fc.sample(httpCase(targets), { numRuns: Math.min(BATCH, runs - tried), seed: seed + b })
      let next = 0
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (next < cases.length) {
          const c = cases[next++]!
          const status = await send(app.baseUrl, keys, c)
          statuses.set(status, (statuses.get(status) ?? 0) + 1)
          if (status >= 500) {
            const key = `${status} ${c.method} ${c.path.slice(0, 120)} ${typeof c.body === "string" ? c.body.slice(0, 120) : ""}`
            errors.set(key, (errors.get(key) ?? 0) + 1)
          }
        }
      }))
      tried += cases.length
      console.log(`  http: ${tried} requests (${((Date.now() - t0) / 1000).toFixed(0)} s)`)
    }
    const fiveXX = [...statuses].filter(([s]) => s >= 500).reduce((n, [, k]) => n + k, 0)
    await drained(app, 600_000)
    const failedJobs = (await withIngestQueue(app, (q) => q.getJobCounts("failed"))).failed ?? 0
    const reasons = await withIngestQueue(app, async (q) => (await q.getFailed(0, 200)).map((j) => `failed ${j.name} job: ${(j.failedReason ?? "").slice(0, 200)}`))
    for (const r of reasons) errors.set(r, (errors.get(r) ?? 0) + 1)
    const byStatus = [...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}: ${n}`).join(", ")
    console.log(`http: ${tried} requests in ${((Date.now() - t0) / 1000).toFixed(1)} s, seed ${seed}: ${fiveXX} 5xx, ${failedJobs} failed ingest jobs (${byStatus})`)
    if (errors.size > 0) console.log(examples(errors))
    return fiveXX + failedJobs
  } finally {
    await app.close()
  }
}

const failures = (values.target === "http" ? 0 : fuzzDecoders()) + (values.target === "decoders" ? 0 : await fuzzHttp())
process.exit(failures === 0 ? 0 : 1)
