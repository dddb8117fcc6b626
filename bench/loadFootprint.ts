import { createTenant, nowMs, openQueues, sleep, until } from "./client.ts"
import type { Tenant } from "./client.ts"
import { pool, retryAfterMs } from "./loadUtil.ts"
import type { Common } from "./loadUtil.ts"

export interface TenantsConfig extends Common {
  readonly mode: "tenants"
  readonly count: number
  readonly concurrency: number
}

export interface ExecutionsConfig extends Common {
  readonly mode: "executions"
  readonly tenants: ReadonlyArray<Tenant>
  readonly total: number
  /** Finish each execution right after starting it (leaves its tenant known and idle). */
  readonly finish: boolean
  readonly concurrency: number
  readonly drainTimeoutSeconds: number
}

// footprint: tenants and open executions

export const tenants = async (c: TenantsConfig) => {
  const out: Array<Tenant> = []
  const t0 = nowMs()
  let i = 0
  await pool(c.concurrency, async () => {
    if (i++ >= c.count) return false
    out.push(await createTenant(c.baseUrl, c.adminToken, "bench-idle"))
    return true
  })
  return { tenants: out, seconds: (nowMs() - t0) / 1000 }
}

/** `total` executions started over the tenants (and finished, if asked); waits until the ingest queue has stored them. */
export const executions = async (c: ExecutionsConfig) => {
  const queues = openQueues(c.queuePrefix, c.redisUrl)
  try {
    const t0 = nowMs()
    let i = 0
    let started = 0
    let finished = 0
    let failed = 0
    await pool(c.concurrency, async () => {
      const n = i++
      if (n >= c.total) return false
      const t = c.tenants[n % c.tenants.length]!
      for (;;) {
        const res = await fetch(`${c.baseUrl}/api/executions`, {
          method: "POST",
          headers: { authorization: `Bearer ${t.key}`, "content-type": "application/json" },
          body: JSON.stringify({ operationName: "plan", serviceName: "agent", context: { contextId: `c${n}`, userId: "bench" } })
        })
        if (res.status === 201) {
          started++
          const { traceId } = (await res.json()) as { traceId: string }
          if (c.finish) {
            for (;;) {
              const f = await fetch(`${c.baseUrl}/api/executions/${traceId}/finish`, {
                method: "POST",
                headers: { authorization: `Bearer ${t.key}`, "content-type": "application/json" },
                body: JSON.stringify({ success: true, durationMs: 1 })
              })
              await f.arrayBuffer()
              if (f.status === 429 || f.status === 503) {
                await sleep(retryAfterMs(f))
                continue
              }
              if (f.status === 202) finished++
              else failed++
              break
            }
          }
          return true
        }
        await res.arrayBuffer()
        if (res.status === 429 || res.status === 503) {
          await sleep(retryAfterMs(res))
          continue
        } else failed++
        return true
      }
    })
    const tSent = nowMs()
    const drained = await until(() => queues.idle(["ingest"]), c.drainTimeoutSeconds * 1000, 100)
    return { started, finished, failed, drained, sendSeconds: (tSent - t0) / 1000, seconds: (nowMs() - t0) / 1000 }
  } finally {
    await queues.close()
  }
}
