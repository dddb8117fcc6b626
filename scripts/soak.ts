/**
 * `npm run soak -- [--minutes N] [--rate POINTS_PER_SECOND] [--tenants K] [--every SECONDS]`
 *
 * The service as `npm start` runs it (embedded TimescaleDB unless DATABASE_URL is set), K tenants
 * sending 500-point batches at `rate` points/s in all (default 10,000: half the measured metrics
 * throughput), for N minutes. Every `every` seconds it prints the service's RSS, its Redis keys' memory,
 * the data folder's bytes per row sent, and the p99 of 202 → stored of a sample of that interval's
 * batches; at the end the slope of each per minute (flat is the goal) and sent = stored, counted in the
 * database after the service stopped.
 */
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { createTenant, nowMs, openQueues, openRedis, prefixMemory, sleep, until } from "../bench/client.ts"
import type { Tenant } from "../bench/client.ts"
import { REDIS_URL, startService } from "../bench/service.ts"
import { percentile, rssOf } from "../bench/stats.ts"
import { makeEmbedded } from "../src/db/embedded.ts"

const { values } = parseArgs({
  options: {
    minutes: { type: "string", default: "5" }, rate: { type: "string", default: "10000" },
    tenants: { type: "string", default: "4" }, every: { type: "string", default: "30" }
  },
  strict: true
})
const minutes = Number(values.minutes)
const rate = Number(values.rate)
const tenantCount = Number(values.tenants)
const every = Number(values.every)
for (const [k, v] of Object.entries({ minutes, rate, tenants: tenantCount, every })) {
  if (!(Number.isFinite(v) && v > 0)) throw new Error(`--${k} must be a positive number`)
}
const BATCH = 500
const log = (s: string) => console.log(`[soak ${new Date().toISOString().slice(11, 19)}] ${s}`)

/** Least-squares slope of y over x. */
const slope = (xs: ReadonlyArray<number>, ys: ReadonlyArray<number>) => {
  const n = xs.length
  const mx = xs.reduce((a, b) => a + b, 0) / n
  const my = ys.reduce((a, b) => a + b, 0) / n
  const num = xs.reduce((a, x, i) => a + (x - mx) * ((ys[i] ?? 0) - my), 0)
  const den = xs.reduce((a, x) => a + (x - mx) ** 2, 0)
  return den === 0 ? 0 : num / den
}

const dirBytes = (dir: string) => Number(execFileSync("du", ["-sb", dir]).toString().split("\t")[0])

const main = async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "mplp-soak-"))
  const service = await startService({ env: { MPLP_DATA_DIR: dataDir, LOG_LEVEL: "warn" } })
  const redis = openRedis(REDIS_URL)
  log(`service ready in ${service.startupSeconds.toFixed(0)} s (pid ${service.pid}); ${tenantCount} tenants, ${rate} points/s in ${BATCH}-point batches, ${minutes} min`)
  const tenants: Array<Tenant> = []
  for (let i = 0; i < tenantCount; i++) tenants.push(await createTenant(service.baseUrl, service.adminToken, `soak${i}`, {}))
  const sent = new Map<string, number>(tenants.map((t) => [t.id, 0]))
  const refused: Record<string, number> = {}
  let sample: Array<{ tenant: Tenant; jobId: string; at: number }> = []
  const endAt = nowMs() + minutes * 60_000
  const gap = (1000 * BATCH) / rate
  const load = (async () => {
    const inflight = new Set<Promise<void>>()
    for (let i = 0, next = nowMs(); next < endAt; i++, next += gap) {
      await sleep(Math.max(0, next - nowMs()))
      const t = tenants[i % tenants.length]!
      const body = JSON.stringify({ points: Array.from({ length: BATCH }, (_, k) => ({ name: `m${k % 10}`, value: k % 97, serviceName: `s${i % 5}` })) })
      const p = (async () => {
        const r = await fetch(`${service.baseUrl}/api/metrics`, { method: "POST", headers: { authorization: `Bearer ${t.key}`, "content-type": "application/json" }, body }).catch(() => undefined)
        if (r?.status === 202) {
          const { jobId } = (await r.json()) as { jobId: string }
          sent.set(t.id, (sent.get(t.id) ?? 0) + BATCH)
          if (i % 10 === 0) sample.push({ tenant: t, jobId, at: nowMs() })
        } else {
          refused[String(r?.status ?? "network")] = (refused[String(r?.status ?? "network")] ?? 0) + 1
          await r?.text()
        }
      })()
      inflight.add(p)
      void p.finally(() => inflight.delete(p))
      if (inflight.size > 64) await Promise.race(inflight)
    }
    await Promise.all(inflight)
  })()

  const rows: Array<{ min: number; rssMB: number; redisMB: number; dbBytesPerRow: number; p99: number }> = []
  const t0 = nowMs()
  while (nowMs() < endAt) {
    await sleep(every * 1000)
    const batch = sample
    sample = []
    const latencies: Array<number> = []
    for (const s of batch) {
      const r = await fetch(`${service.baseUrl}/api/jobs/${s.jobId}`, { headers: { authorization: `Bearer ${s.tenant.key}` } })
      const j = r.status === 200 ? ((await r.json()) as { state: string; finishedAt?: string }) : (await r.text(), undefined)
      if (j?.state === "completed" && j.finishedAt !== undefined) latencies.push(Date.parse(j.finishedAt) - s.at)
    }
    const total = [...sent.values()].reduce((a, b) => a + b, 0)
    const redisBytes = (await prefixMemory(redis, service.queuePrefix)).bytes
    const row = {
      min: (nowMs() - t0) / 60_000,
      rssMB: (rssOf(service.pid) ?? 0) / 1024 / 1024,
      redisMB: redisBytes / 1024 / 1024,
      dbBytesPerRow: total === 0 ? 0 : dirBytes(dataDir) / total,
      p99: percentile(latencies, 99)
    }
    rows.push(row)
    log(`${row.min.toFixed(1)} min: RSS ${row.rssMB.toFixed(0)} MB, Redis keys ${row.redisMB.toFixed(1)} MB, DB ${row.dbBytesPerRow.toFixed(0)} B/row, ` +
      `p99 202→stored ${row.p99.toFixed(0)} ms (${latencies.length}/${batch.length} sampled stored), sent ${total}, refused ${JSON.stringify(refused)}`)
  }
  await load
  // Drain: wait until no ingest batch is waiting (the stop would delete them), then count in the database.
  const queues = openQueues(service.queuePrefix, REDIS_URL)
  const drained = await until(() => queues.idle(["ingest"]), 180_000, 500)
  await queues.close()
  if (!drained) log("the ingest queue did not drain within 180 s")
  await sleep(2_000)
  await service.stop()
  await redis.quit()
  const stored = await Effect.runPromise(Effect.scoped(Effect.flatMap(makeEmbedded(dataDir), (db) =>
    db.query<{ tenant_id: string; n: number }>("SELECT tenant_id, count(*)::int AS n FROM metric_points GROUP BY tenant_id"))))
  rmSync(dataDir, { recursive: true, force: true })
  const xs = rows.map((r) => r.min)
  const storedOf = new Map(stored.map((r) => [r.tenant_id, r.n]))
  console.log(JSON.stringify({
    minutes, rate, tenants: tenantCount,
    slopesPerMinute: {
      rssMB: +slope(xs, rows.map((r) => r.rssMB)).toFixed(2),
      redisMB: +slope(xs, rows.map((r) => r.redisMB)).toFixed(2),
      dbBytesPerRow: +slope(xs, rows.map((r) => r.dbBytesPerRow)).toFixed(2),
      p99Ms: +slope(xs, rows.map((r) => r.p99)).toFixed(1)
    },
    last: rows.at(-1),
    refused,
    sentEqualsStored: tenants.every((t) => sent.get(t.id) === storedOf.get(t.id)),
    perTenant: tenants.map((t) => ({ tenant: t.id, sent: sent.get(t.id), stored: storedOf.get(t.id) ?? 0 }))
  }, null, 1))
}

main().then(() => process.exit(0), (e: unknown) => {
  console.error(e)
  process.exit(1)
})
