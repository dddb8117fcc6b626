import { counterValue, createTenant, UNLIMITED, nowMs, openQueues, scrape, sleep, until } from "./client.ts"
import { metricBatch } from "./data.ts"
import { latencyStats, log, pool, retryAfterMs } from "./loadUtil.ts"
import type { Common } from "./loadUtil.ts"
import { makeTraceRequest } from "./otlpRequests.ts"
import { cpuSecondsOf, machineCpuSeconds } from "./stats.ts"

export interface ThroughputConfig extends Common {
  /** genai: OTLP spans with GenAI attributes (an agent, model and tool calls), to a tenant with a price table. */
  readonly mode: "metrics" | "otlp" | "genai" | "genai-off"
  readonly durationSeconds: number
  readonly maxRequests: number
  /** Points (metrics) or spans (otlp) per request. */
  readonly batchSize: number
  readonly concurrency: number
  /** Waiting ingest batches above which the generator holds back (keeps the drain short). */
  readonly maxQueued: number
  readonly seed: number
  readonly drainTimeoutSeconds: number
  /** Processes whose CPU time is read (from /proc) at the first request and when the last batch is windowed. */
  readonly pids: Record<string, number | undefined>
  /**
   * How "persisted" is seen: the API's /metrics counter of processed ingest jobs (default: the stages run in
   * the API's process), or the ingest queue holding nothing more (the stages run in other processes).
   */
  readonly persistedBy?: "metrics" | "queue"
}

/** The genai scenario's price table: one of its two models is priced, the other's tokens are unpriced. */
const BENCH_PRICING = [{ model: "gpt-4o-mini*", inputPerMTok: 0.15, outputPerMTok: 0.6, effectiveFrom: "2024-07-18" }]

// metrics / otlp / genai: sustained throughput until persisted and windowed

export const throughput = async (c: ThroughputConfig) => {
  const queues = openQueues(c.queuePrefix, c.redisUrl)
  try {
    const tenant = await createTenant(c.baseUrl, c.adminToken, `bench-${c.mode}`, c.mode === "genai" || c.mode === "genai-off" ? { ...UNLIMITED, pricing: BENCH_PRICING } : UNLIMITED)
    const auth = { authorization: `Bearer ${tenant.key}` }
    let bodies: Array<Uint8Array | string>
    const buildStart = nowMs()
    if (c.mode === "metrics") {
      // 32 distinct bodies, cycled: native points are keyed by job and position, so a repeated body is new rows.
      bodies = Array.from({ length: Math.min(32, c.maxRequests) }, (_, b) => JSON.stringify({ points: metricBatch(c.seed, b, c.batchSize) }))
    } else {
      // Every request must carry new spans (a span sent twice is one row): built before the clock starts.
      const now = Date.now()
      bodies = Array.from({ length: c.maxRequests }, (_, r) => makeTraceRequest(c.batchSize, now - 30_000 + r, false, c.mode === "genai" || c.mode === "genai-off", c.mode === "genai-off").protobuf)
    }
    log(`${c.mode}: ${bodies.length} bodies built in ${((nowMs() - buildStart) / 1000).toFixed(1)} s`)
    const path = c.mode === "metrics" ? "/api/metrics" : "/v1/traces"
    const contentType = c.mode === "metrics" ? "application/json" : "application/x-protobuf"
    const kind = c.mode === "metrics" ? "metrics" : "spans"
    const byQueue = c.persistedBy === "queue"
    const processed = async () => (byQueue ? 0 : counterValue(await scrape(c.baseUrl), "mplp_jobs_processed", { stage: "ingest", kind }))
    const before = await processed()
    const failedBefore = { ingest: (await queues.counts("ingest")).failed, aggregate: (await queues.counts("aggregate")).failed }

    // Back-pressure from the ingest queue, sampled (not per request).
    let queued = 0
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        try {
          queued = queues.pending(await queues.counts("ingest"))
        } catch {
          // keep the last sample
        }
        await sleep(100)
      }
    })()

    const pids: Record<string, number | undefined> = { ...c.pids, loadgen: process.pid }
    const cpuAt = () => Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, pid === undefined ? undefined : cpuSecondsOf(pid)]))
    const cpu0 = cpuAt()
    const machine0 = machineCpuSeconds()
    const latencies: Array<number> = []
    let next = 0
    let acceptedRequests = 0
    let acceptedItems = 0
    let retries = 0
    let errors = 0
    let heldBackMs = 0
    const t0 = nowMs()
    const monoStartUs = Number(process.hrtime.bigint() / 1000n)
    const deadline = t0 + c.durationSeconds * 1000
    await pool(c.concurrency, async () => {
      if (nowMs() >= deadline || next >= c.maxRequests) return false
      const i = next++
      const body = bodies[i % bodies.length]!
      for (;;) {
        const h0 = nowMs()
        while (queued > c.maxQueued) await sleep(10)
        heldBackMs += nowMs() - h0
        const r0 = nowMs()
        const res = await fetch(`${c.baseUrl}${path}`, { method: "POST", headers: { ...auth, "content-type": contentType }, body })
        await res.arrayBuffer()
        if (res.status === 202 || res.status === 200) {
          latencies.push(nowMs() - r0)
          acceptedRequests++
          acceptedItems += c.batchSize
          return true
        }
        if (res.status === 429 || res.status === 503) {
          retries++
          await sleep(retryAfterMs(res))
          continue
        }
        errors++
        log(`${path}: HTTP ${res.status}`)
        return true
      }
    })
    const tSent = nowMs()
    sampling = false
    await sampler
    const persisted = await until(
      async () => (byQueue ? queues.pending(await queues.counts("ingest")) === 0 : (await processed()) - before >= acceptedRequests),
      c.drainTimeoutSeconds * 1000, 50)
    const tPersisted = nowMs()
    // Each ingest job hands its batch to the aggregate queue before it counts as processed, so once
    // every batch is counted and the aggregate queue is empty, every point is in its window.
    const windowed = await until(async () => queues.pending(await queues.counts("aggregate")) === 0, c.drainTimeoutSeconds * 1000, 50)
    const tWindowed = nowMs()
    const monoEndUs = Number(process.hrtime.bigint() / 1000n)
    const cpu1 = cpuAt()
    const machine1 = machineCpuSeconds()
    // How big the batch is at each hop: the HTTP body, the ingest job and the aggregate job (both JSON in Redis).
    const ofTenant = (jobs: ReadonlyArray<{ id?: string; data: unknown }>) => jobs.filter((j) => j.id?.startsWith(`${tenant.id}.`) === true)
    const ingestJob = ofTenant(await queues.completed("ingest", 50))[0]
    const aggregateJob = ofTenant(await queues.completed("aggregate", 50))[0]
    const bytes = (x: unknown) => Buffer.byteLength(JSON.stringify(x))
    const itemsIn = (d: unknown, k: string) => (typeof d === "object" && d !== null && k in d && Array.isArray((d as Record<string, unknown>)[k]) ? ((d as Record<string, unknown>)[k] as Array<unknown>).length : 0)
    const payload = {
      httpBodyBytesPerItem: (typeof bodies[0] === "string" ? Buffer.byteLength(bodies[0]) : bodies[0]!.length) / c.batchSize,
      ingestJobBytesPerItem: ingestJob === undefined ? null : bytes(ingestJob.data) / Math.max(1, c.mode === "metrics" ? itemsIn(ingestJob.data, "points") || itemsIn(ingestJob.data, "value") : itemsIn(ingestJob.data, "spans") || itemsIn(ingestJob.data, "spanId")),
      aggregateJobBytes: aggregateJob === undefined ? null : bytes(aggregateJob.data),
      aggregateJobPartials: aggregateJob === undefined ? null : itemsIn(aggregateJob.data, "partials")
    }
    const failedAfter = { ingest: (await queues.counts("ingest")).failed, aggregate: (await queues.counts("aggregate")).failed }
    const s = (t: number) => (t - t0) / 1000
    // CPU use from the first request until the last batch was windowed, as a share of one core.
    const cpuPercent = Object.fromEntries(Object.keys(pids).map((k) => {
      const a = cpu0[k]
      const b = cpu1[k]
      return [k, a === undefined || b === undefined ? null : (100 * (b - a)) / s(tWindowed)]
    }))
    const ours = Object.values(cpuPercent).reduce<number>((a, b) => a + (b ?? 0), 0) / 100
    const otherCores = machine0 === undefined || machine1 === undefined ? null : Math.max(0, (machine1.busy - machine0.busy) / s(tWindowed) - ours)
    return {
      monoStartUs,
      monoEndUs,
      cpuPercent,
      otherCores,
      tenantId: tenant.id,
      requests: acceptedRequests,
      items: acceptedItems,
      retries,
      errors,
      heldBackSeconds: heldBackMs / 1000 / c.concurrency,
      persisted,
      windowed,
      t0,
      sendSeconds: s(tSent),
      persistSeconds: s(tPersisted),
      windowSeconds: s(tWindowed),
      acceptedPerSecond: acceptedItems / s(tSent),
      persistedPerSecond: acceptedItems / s(tPersisted),
      windowedPerSecond: acceptedItems / s(tWindowed),
      requestMs: latencyStats(latencies),
      payload,
      failedJobs: { ingest: failedAfter.ingest - failedBefore.ingest, aggregate: failedAfter.aggregate - failedBefore.aggregate }
    }
  } finally {
    await queues.close()
  }
}
