import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { Redis } from "ioredis"
import { createTenant, openQueues, sleep } from "../bench/client.ts"
import { metricBatch } from "../bench/data.ts"
import { makeTraceRequest } from "../bench/otlpRequests.ts"
import { REDIS_URL, startService } from "../bench/service.ts"
import { machineInfo, MB, percentile, root, round, rssOf } from "../bench/stats.ts"
import { makeEmbedded } from "../src/db/embedded.ts"
import { parseArgs } from "node:util"
import { argsOrUsage, usageError } from "../src/config/cliArgs.ts"

// npm run soak -- --minutes 30: the service as `npm start` runs it, fed for a long time at a steady
// rate by several tenants (metric batches and OTLP span exports), sampled every --sample-seconds: RSS
// of the service, Redis used_memory, database bytes on disk per stored row, p99 of the requests.
// The goal is flat lines; the slopes (per hour, and as % of the mean per hour) say how flat. At the
// end the queues are drained and every tenant's rows are counted: accepted (202) = stored.

const usage = `usage: npm run soak -- [--minutes N] [--tenants N] [--rate POINTS_PER_S] [--sample-seconds N]

  --minutes         how long to send (default 30)
  --tenants         tenants sending at once (default 4)
  --rate            metric points per second over all tenants (default 9700: half the README's
                    measured end-to-end capacity on the embedded database); spans go at a tenth of it
  --sample-seconds  seconds between samples (default 30)`

const cli = argsOrUsage(usage, () =>
  parseArgs({
    args: process.argv.slice(2),
    strict: true,
    allowPositionals: false,
    options: { minutes: { type: "string" }, tenants: { type: "string" }, rate: { type: "string" }, "sample-seconds": { type: "string" } }
  })
)
const positive = (name: string, raw: string | undefined, fallback: number) => {
  if (raw === undefined) return fallback
  const n = Number(raw)
  return Number.isFinite(n) && n > 0 ? n : usageError(usage, `--${name} must be a positive number`)
}
const minutes = positive("minutes", cli.values.minutes, 30)
const tenants = Math.round(positive("tenants", cli.values.tenants, 4))
const rate = positive("rate", cli.values.rate, 9700)
const sampleSeconds = positive("sample-seconds", cli.values["sample-seconds"], 30)

const BATCH = 200 // points per metric request
const SPANS = 40 // spans per OTLP request
const say = (s: string) => process.stderr.write(`[soak] ${s}\n`)

/** Least-squares slope of y over x (x in hours): units of y per hour. */
const slope = (xs: ReadonlyArray<number>, ys: ReadonlyArray<number>) => {
  const n = xs.length
  if (n < 2) return Number.NaN
  const mx = xs.reduce((a, b) => a + b, 0) / n
  const my = ys.reduce((a, b) => a + b, 0) / n
  let num = 0
  let den = 0
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my)
    den += (xs[i]! - mx) ** 2
  }
  return den === 0 ? 0 : num / den
}

const duBytes = (dir: string) => Number(execFileSync("du", ["-sb", dir], { encoding: "utf8" }).split("\t")[0])

const redisUsedMemory = async (redis: Redis) => Number(/used_memory:(\d+)/.exec(await redis.info("memory"))?.[1] ?? Number.NaN)

interface Sample {
  readonly minute: number
  readonly rssMb: number
  readonly redisMb: number
  readonly dbBytesPerRow: number
  readonly p99Ms: number
  /** Jobs waiting in the ingest and aggregate queues: Redis grows with them when the service falls behind. */
  readonly backlog: { readonly ingest: number; readonly aggregate: number }
  readonly requests: number
  readonly refused: number
  readonly load1: number
}

const main = async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "mplp-soak-"))
  say(`starting the service (npm start's workers/all.ts) on ${dataDir}`)
  const service = await startService({ env: { MPLP_DATA_DIR: dataDir } })
  const redis = new Redis(REDIS_URL)
  const queues = openQueues(service.queuePrefix, REDIS_URL)
  const accepted = new Map<string, { points: number; spans: number }>()
  const latencies: Array<number> = []
  let requests = 0
  let refused = 0
  let failed = 0
  let drainSeconds = Number.NaN
  const samples: Array<Sample> = []
  try {
    const ts = await Promise.all(Array.from({ length: tenants }, (_, i) => createTenant(service.baseUrl, service.adminToken, `soak${i}`)))
    for (const t of ts) accepted.set(t.id, { points: 0, spans: 0 })
    const endAt = Date.now() + minutes * 60_000
    const t0 = Date.now()
    // Open-loop senders: each tenant sends a metric batch every BATCH / (rate / tenants) seconds and an
    // OTLP export every SPANS / (rate / 10 / tenants) seconds, whatever the answers take.
    const send = async (tenant: { id: string; key: string }, kind: "points" | "spans", everyMs: number) => {
      let n = 0
      let next = Date.now() + Math.random() * everyMs
      const inflight = new Set<Promise<void>>()
      while (Date.now() < endAt) {
        await sleep(Math.max(0, next - Date.now()))
        next += everyMs
        const b = n++
        const started = performance.now()
        const request =
          kind === "points"
            ? fetch(`${service.baseUrl}/api/metrics`, {
                method: "POST",
                headers: { authorization: `Bearer ${tenant.key}`, "content-type": "application/json" },
                body: JSON.stringify({ points: metricBatch(b, b, BATCH) })
              })
            : fetch(`${service.baseUrl}/v1/traces`, {
                method: "POST",
                headers: { authorization: `Bearer ${tenant.key}`, "content-type": "application/x-protobuf" },
                body: makeTraceRequest(SPANS, Date.now() - 1000, false).protobuf
              })
        const p = request
          .then(async (res) => {
            await res.arrayBuffer()
            requests++
            latencies.push(performance.now() - started)
            if (res.status === 202 || res.status === 200) {
              const a = accepted.get(tenant.id)!
              if (kind === "points") a.points += BATCH
              else a.spans += SPANS
            } else if (res.status === 429 || res.status === 503) refused++
            else failed++
          })
          .catch(() => {
            failed++
          })
          .finally(() => inflight.delete(p))
        inflight.add(p)
        if (inflight.size > 64) await Promise.race(inflight) // never more than 64 requests in flight per sender
      }
      await Promise.all(inflight)
    }
    const pointEveryMs = (BATCH / (rate / tenants)) * 1000
    const spanEveryMs = (SPANS / (rate / 10 / tenants)) * 1000
    say(`${tenants} tenants, ${rate} points/s (${BATCH} per request) + ${rate / 10} spans/s (${SPANS} per request), for ${minutes} min`)
    const senders = ts.flatMap((t) => [send(t, "points", pointEveryMs), send(t, "spans", spanEveryMs)])
    const sampler = (async () => {
      while (Date.now() < endAt) {
        await sleep(Math.min(sampleSeconds * 1000, Math.max(0, endAt - Date.now())))
        const stored = [...accepted.values()].reduce((a, b) => a + b.points + b.spans, 0)
        const window = latencies.splice(0, latencies.length)
        const s: Sample = {
          minute: round((Date.now() - t0) / 60_000, 2),
          rssMb: round((rssOf(service.pid) ?? Number.NaN) / MB),
          redisMb: round((await redisUsedMemory(redis)) / MB, 2),
          dbBytesPerRow: round(duBytes(dataDir) / Math.max(1, stored)),
          p99Ms: round(percentile(window, 99)),
          backlog: { ingest: queues.pending(await queues.counts("ingest")), aggregate: queues.pending(await queues.counts("aggregate")) },
          requests,
          refused,
          load1: round(loadavg()[0] ?? 0, 2)
        }
        samples.push(s)
        say(JSON.stringify(s))
      }
    })()
    await Promise.all([...senders, sampler])
    say("sending done; waiting for the queues to drain")
    const drainStart = Date.now()
    // What was accepted is stored once the ingest queue is empty; the other stages then catch up.
    for (const [stages, limitMs] of [[["ingest"], 900_000], [undefined, 300_000]] as const) {
      const deadline = Date.now() + limitMs
      while (!(await queues.idle(stages)) && Date.now() < deadline) await sleep(500)
    }
    drainSeconds = round((Date.now() - drainStart) / 1000)
    say(`drained in ${drainSeconds} s`)
  } finally {
    await queues.close()
    redis.disconnect()
    await service.stop()
  }
  // Count what the database holds per tenant, on the same data folder.
  const counts = await Effect.runPromise(
    Effect.scoped(
      Effect.flatMap(makeEmbedded(dataDir), (db) =>
        Effect.all({
          points: db.query<{ tenant_id: string; n: number }>("SELECT tenant_id, count(*)::int AS n FROM metric_points GROUP BY tenant_id"),
          spans: db.query<{ tenant_id: string; n: number }>("SELECT tenant_id, count(*)::int AS n FROM spans GROUP BY tenant_id")
        })
      )
    )
  )
  rmSync(dataDir, { recursive: true, force: true })
  const storedOf = (rows: ReadonlyArray<{ tenant_id: string; n: number }>, id: string) => rows.find((r) => r.tenant_id === id)?.n ?? 0
  const perTenant = [...accepted.entries()].map(([id, a]) => ({
    tenant: id,
    pointsAccepted: a.points,
    pointsStored: storedOf(counts.points, id),
    spansAccepted: a.spans,
    spansStored: storedOf(counts.spans, id)
  }))
  const hours = samples.map((s) => s.minute / 60)
  const trend = (pick: (s: Sample) => number) => {
    const ys = samples.map(pick)
    const mean = ys.reduce((a, b) => a + b, 0) / Math.max(1, ys.length)
    const perHour = slope(hours, ys)
    return { first: ys[0], last: ys[ys.length - 1], perHour: round(perHour, 2), percentOfMeanPerHour: round((100 * perHour) / mean, 1) }
  }
  const result = {
    when: new Date().toISOString(),
    machine: { ...machineInfo(), load1: loadavg()[0] },
    config: { minutes, tenants, pointsPerSecond: rate, spansPerSecond: rate / 10, sampleSeconds },
    requests: { sent: requests, refused, failed },
    drainSeconds,
    slopes: {
      rssMb: trend((s) => s.rssMb),
      redisMb: trend((s) => s.redisMb),
      dbBytesPerRow: trend((s) => s.dbBytesPerRow),
      p99Ms: trend((s) => s.p99Ms)
    },
    sentEqualsStored: perTenant.every((t) => t.pointsAccepted === t.pointsStored && t.spansAccepted === t.spansStored),
    perTenant,
    samples
  }
  const dir = join(root, "bench", "results")
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `${result.when.replace(/[:.]/g, "-").slice(0, 19)}-soak.json`)
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`)
  process.stdout.write(`${JSON.stringify({ ...result, samples: undefined }, null, 2)}\nsamples and all: ${file}\n`)
  if (!result.sentEqualsStored) process.exitCode = 1
}

main().catch((e: unknown) => {
  process.stderr.write(`soak failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`)
  process.exit(1)
})
