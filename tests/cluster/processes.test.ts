import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"
import { fastWindows, pointTotals, startDbHost, startProcess, windowTotals } from "../support/processes.ts"
import type { DbHost, Proc } from "../support/processes.ts"
import { startRedisCluster } from "../support/redisCluster.ts"
import type { RedisClusterHandle } from "../support/redisCluster.ts"

// tests/scale/processes.test.ts's kill -9 test, reduced (fewer, smaller batches), on a real Redis Cluster:
// the API in this process, the stages in worker processes (workers/run.ts) sharing the embedded
// TimescaleDB served by workers/db.ts.
let cluster: RedisClusterHandle
let db: DbHost
let app: TestApp
const procs: Array<Proc> = []

beforeAll(async () => {
  ;[cluster, db] = await Promise.all([startRedisCluster(3, 1), startDbHost()])
  app = await startApp({ stages: [] }, { ...db.env, REDIS_URL: cluster.url })
}, 120_000)
afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop(5_000)))
  await app?.close()
  await db?.proc.stop()
  await cluster?.stop()
})

const worker = () => {
  const p = startProcess("workers/run.ts", ["--stage", "all", "--concurrency", "2"], {
    ...db.env, REDIS_URL: cluster.url, MPLP_QUEUE_PREFIX: app.prefix, MPLP_SECRET_KEY: app.env.MPLP_SECRET_KEY ?? "", MPLP_JOB_LOCK_MS: "3000", LOG_LEVEL: "warn", LOG_FORMAT: "json"
  })
  procs.push(p)
  return p
}

const count = (tenantId: string) => pointTotals(app, tenantId)
const windows = (tenantId: string) => windowTotals(app, tenantId)

describe("worker processes on a Redis Cluster", () => {
  it("kill -9 of a worker under load: after a restart every point is stored once and window sums are exact", async () => {
    const tenants = await Promise.all([app.tenant(["ingest", "query"], fastWindows), app.tenant(["ingest", "query"], fastWindows)])
    const w1 = worker()
    let w2: Proc | undefined
    const base = Math.floor(Date.now() / 1000) * 1000 - 3_600_000
    const totals = new Map<string, number>()
    for (let i = 0; i < 30; i++) {
      if (i === 10) {
        await eventually(async () => (((await count(tenants[0]?.id ?? ""))?.n ?? 0) > 0 ? true : undefined), 30_000)
        w1.child.kill("SIGKILL")
        await w1.exited
      }
      if (i === 15) w2 = worker()
      for (const t of tenants) {
        const points = Array.from({ length: 100 }, (_, j) => ({ name: "work", value: (i * 7 + j) % 50, time: base + i * 1000 + j }))
        totals.set(t.id, (totals.get(t.id) ?? 0) + points.reduce((a, p) => a + p.value, 0))
        expect((await call(app, t.key, "POST", "/api/metrics", { points })).status).toBe(202)
      }
    }
    for (const t of tenants) {
      await eventually(async () => ((await windows(t.id))?.n === 3_000 && (await count(t.id))?.n === 3_000 ? true : undefined), 60_000, 500)
      expect(await count(t.id)).toEqual({ n: 3_000, s: totals.get(t.id) })
      expect(await windows(t.id)).toEqual({ n: 3_000, s: totals.get(t.id) })
    }
    await w2?.stop()
  }, 120_000)
})
