import { Queue } from "bullmq"
import type { RedisOptions } from "ioredis"
import { openClient, scanKeys } from "../src/queues/Redis.ts"
import type { RedisClient } from "../src/queues/Redis.ts"
import { parseRedisTarget } from "../src/queues/redisTarget.ts"
import { randomUUID } from "node:crypto"
import { bullPrefix, STAGES } from "../src/queues/Queues.ts"
import { DEFAULT_PARTITIONS, IngestPartitions } from "../src/queues/IngestPartitions.ts"
import type { Stage } from "../src/queues/Queues.ts"
import { keyPatterns } from "../src/queues/keys.ts"

// What the load generator and the runner need to talk to the service from outside: HTTP with a
// tenant key or the admin token, the Prometheus text of /metrics, and the BullMQ queue counts in
// the local Redis (read-only).

export interface Tenant {
  readonly id: string
  readonly key: string
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes of one machine. */
export const nowMs = () => performance.timeOrigin + performance.now()

export const adminCall = async (baseUrl: string, token: string, method: string, path: string, body?: unknown): Promise<Response> =>
  fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })

/** Quotas high enough that the bench measures the pipeline, not the tenant's rate limit. */
export const UNLIMITED = {
  quotas: { requestsPerSecond: 1_000_000, pointsPerSecond: 100_000_000, bytesPerSecond: 10_000_000_000 },
  limits: { maxActiveSeries: 10_000_000, maxBacklogPoints: 100_000_000, maxBacklogBytes: 100_000_000_000 }
}

/** A new tenant with one ingest+query key. */
export const createTenant = async (baseUrl: string, token: string, prefix: string, settings: unknown = UNLIMITED): Promise<Tenant> => {
  const id = `${prefix}-${randomUUID().replace(/-/g, "").slice(0, 10)}`
  const created = await adminCall(baseUrl, token, "POST", "/api/admin/tenants", { id, name: id, settings })
  if (created.status !== 201) throw new Error(`create tenant: ${created.status} ${await created.text()}`)
  const k = await adminCall(baseUrl, token, "POST", `/api/admin/tenants/${id}/keys`, { scopes: ["ingest", "query"] })
  if (k.status !== 201) throw new Error(`create key: ${k.status} ${await k.text()}`)
  const { key } = (await k.json()) as { key: string }
  return { id, key }
}

/** Sum of a Prometheus counter's samples whose labels include every pair of `labels`. */
export const counterValue = (text: string, name: string, labels: Record<string, string> = {}): number => {
  let total = 0
  for (const line of text.split("\n")) {
    if (!(line.startsWith(`${name}_total{`) || line.startsWith(`${name}{`) || line.startsWith(`${name}_total `))) continue
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue
    const value = Number(line.slice(line.lastIndexOf(" ") + 1))
    if (Number.isFinite(value)) total += value
  }
  return total
}

/** The service's Prometheus text; a failed fetch is tried again (up to 5 times, 1 s apart) and then reported with its cause. */
export const scrape = async (baseUrl: string): Promise<string> => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await (await fetch(`${baseUrl}/metrics`)).text()
    } catch (e) {
      const cause = e instanceof Error && e.cause !== undefined ? `: ${String(e.cause)}` : ""
      if (attempt >= 5) throw new Error(`GET ${baseUrl}/metrics failed ${attempt} times${cause}`)
      process.stderr.write(`[loadgen] GET /metrics failed${cause}; trying again\n`)
      await sleep(1000)
    }
  }
}

export type Counts = Record<"wait" | "active" | "delayed" | "prioritized" | "paused" | "failed" | "completed", number>

/** A client of REDIS_URL as the service reads it: one server, or a Redis Cluster (`redis+cluster://`, REDIS_CLUSTER=true). */
export const openRedis = (redisUrl: string, options: RedisOptions = {}): RedisClient => {
  const target = parseRedisTarget(redisUrl, process.env.REDIS_CLUSTER === "true")
  if (target._tag === "Left") throw new Error(`REDIS_URL ${target.left}`)
  return openClient(target.right, options)
}

/** The service's BullMQ queues (same names and prefix as src/queues/Queues.ts), opened for reading counts. */
export const openQueues = (prefix: string, redisUrl: string) => {
  const connection = openRedis(redisUrl, { maxRetriesPerRequest: null })
  // The ingest and aggregate stages' partitions read as one queue each (counts summed, jobs of every partition).
  const partitions = Number(process.env.MPLP_QUEUE_PARTITIONS ?? DEFAULT_PARTITIONS)
  const queues = new Map<Stage, Queue | IngestPartitions>(
    STAGES.map((s) => [s, s === "ingest" || s === "aggregate" ? IngestPartitions.open(connection, prefix, partitions, s) : new Queue(s, { connection, prefix: bullPrefix(prefix) })])
  )
  const counts = async (stage: Stage): Promise<Counts> => {
    const c = await queues.get(stage)!.getJobCounts("wait", "active", "delayed", "prioritized", "paused", "failed", "completed")
    return { wait: c.wait ?? 0, active: c.active ?? 0, delayed: c.delayed ?? 0, prioritized: c.prioritized ?? 0, paused: c.paused ?? 0, failed: c.failed ?? 0, completed: c.completed ?? 0 }
  }
  const pending = (c: Counts) => c.wait + c.active + c.delayed + c.prioritized + c.paused
  /** True when no stage has a job waiting, running or scheduled for a retry. */
  const idle = async (stages: ReadonlyArray<Stage> = STAGES) => {
    for (const s of stages) if (pending(await counts(s)) > 0) return false
    return true
  }
  /** The most recently completed jobs of a stage (BullMQ keeps them for an hour). */
  const completed = (stage: Stage, n: number) => queues.get(stage)!.getCompleted(0, n - 1)
  const close = () => Promise.all([...queues.values()].map((q) => q.close())).then(() => connection.quit()).then(() => undefined)
  return { counts, pending, idle, completed, close }
}
export type Queues = ReturnType<typeof openQueues>

/** Polls `f` every `everyMs` until it returns true; false when `timeoutMs` passes first. */
export const until = async (f: () => Promise<boolean>, timeoutMs: number, everyMs = 50): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      if (await f()) return true
    } catch {
      // a failed poll (connection reset while the service is busy) counts as "not yet"
    }
    if (Date.now() > deadline) return false
    await sleep(everyMs)
  }
}

/**
 * MEMORY USAGE summed over one deployment's keys (`prefix`), and their number: the Redis may be shared, so
 * used_memory counts others too. On a cluster, every master's keys (SCAN sees one node).
 */
export const prefixMemory = async (r: RedisClient, prefix: string): Promise<{ readonly bytes: number; readonly keys: number }> => {
  let bytes = 0
  let keys = 0
  for await (const { node, keys: ks } of scanKeys(r, keyPatterns(prefix))) {
    const pipe = node.pipeline()
    for (const k of ks) pipe.memory("USAGE", k, "SAMPLES", "0")
    for (const [, v] of (await pipe.exec()) ?? []) bytes += Number(v ?? 0)
    keys += ks.length
  }
  return { bytes, keys }
}
