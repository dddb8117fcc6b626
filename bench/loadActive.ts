import { createTenant, nowMs, scrape, sleep } from "./client.ts"
import type { Tenant } from "./client.ts"
import { latencyStats, log, pool, retryAfterMs } from "./loadUtil.ts"
import type { Common } from "./loadUtil.ts"

export interface ActiveConfig extends Common {
  readonly mode: "active"
  readonly tenants: number
  /** Executions started and kept running (one trace actor each). */
  readonly total: number
  /** Updates sent to every execution, one round after the other. */
  readonly rounds: number
  readonly concurrency: number
  /** Then this many updates one at a time (no backlog), over the running executions. */
  readonly paced: number
}

// footprint, active part: `total` executions running at once, each updated `rounds` times; an update's
// latency is from sending its PATCH to its change arriving on the tenant's live view (SSE), i.e.
// API → queue → ingest → trace actor → Redis stream → API → client.

/** Reads a tenant's live view, calling `on(executionId, progress, atMs)` per change. */
const follow = (baseUrl: string, t: Tenant, on: (executionId: string, kind: string, progress: number | null, atMs: number) => void) => {
  const abort = new AbortController()
  const ready = (async () => {
    const res = await fetch(`${baseUrl}/api/executions/live`, { headers: { authorization: `Bearer ${t.key}` }, signal: abort.signal })
    if (res.status !== 200 || res.body === null) throw new Error(`live view: ${res.status}`)
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ""
    const pump = async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read()
          if (done) return
          buffer += value
          const at = nowMs()
          let i: number
          while ((i = buffer.indexOf("\n\n")) >= 0) {
            const frame = buffer.slice(0, i)
            buffer = buffer.slice(i + 2)
            const data = frame.split("\n").find((l) => l.startsWith("data: "))
            if (data === undefined) continue
            const c = JSON.parse(data.slice(6)) as { kind: string; execution: { executionId: string; progressPercentage: number | null } }
            on(c.execution.executionId, c.kind, c.execution.progressPercentage, at)
          }
        }
      } catch {
        // closed
      }
    }
    // The stream is open once its first comment arrived.
    const first = await reader.read()
    buffer = first.value ?? ""
    void pump()
  })()
  return { ready, close: () => abort.abort() }
}

const send = async (url: string, key: string, method: string, body: unknown): Promise<number> => {
  for (;;) {
    const res = await fetch(url, { method, headers: { authorization: `Bearer ${key}`, "content-type": "application/json" }, body: JSON.stringify(body) })
    const text = await res.text()
    if (res.status === 429 || res.status === 503) {
      await sleep(retryAfterMs(res))
      continue
    }
    if (res.status !== 201 && res.status !== 202) throw new Error(`${method} ${url}: ${res.status} ${text}`)
    return res.status
  }
}

export const active = async (c: ActiveConfig) => {
  const tenants: Array<Tenant> = []
  for (let i = 0; i < c.tenants; i++) tenants.push(await createTenant(c.baseUrl, c.adminToken, "bench-active"))
  const arrivals = new Map<string, number>()
  const started = new Set<string>()
  const streams = tenants.map((t) =>
    follow(c.baseUrl, t, (id, kind, progress, at) => {
      if (kind === "start") started.add(id)
      else if (progress !== null && !arrivals.has(`${id}:${progress}`)) arrivals.set(`${id}:${progress}`, at)
    })
  )
  await Promise.all(streams.map((s) => s.ready))
  try {
    const t0 = nowMs()
    const ids: Array<{ id: string; t: Tenant }> = []
    let n = 0
    await pool(c.concurrency, async () => {
      const i = n++
      if (i >= c.total) return false
      const t = tenants[i % tenants.length]!
      const res = await fetch(`${c.baseUrl}/api/executions`, {
        method: "POST",
        headers: { authorization: `Bearer ${t.key}`, "content-type": "application/json" },
        body: JSON.stringify({ operationName: "agent-run", serviceName: "bench-agent", context: { contextId: `c${i}`, userId: "bench" } })
      })
      if (res.status !== 201) throw new Error(`start: ${res.status} ${await res.text()}`)
      ids.push({ id: ((await res.json()) as { executionId: string }).executionId, t })
      return true
    })
    const startSeconds = (nowMs() - t0) / 1000
    const deadline = nowMs() + 120_000
    while (started.size < ids.length && nowMs() < deadline) await sleep(50)
    log(`active: ${ids.length} executions started in ${startSeconds.toFixed(1)} s, ${started.size} seen live`)
    const sentAt = new Map<string, number>()
    const latencies: Array<number> = []
    const httpLatencies: Array<number> = []
    for (let r = 1; r <= c.rounds; r++) {
      const progress = r * 10
      let k = 0
      await pool(c.concurrency, async () => {
        const i = k++
        if (i >= ids.length) return false
        const { id, t } = ids[i]!
        const at = nowMs()
        sentAt.set(`${id}:${progress}`, at)
        await send(`${c.baseUrl}/api/executions/${id}`, t.key, "PATCH", { progressPercentage: progress, currentOperation: `step ${r}`, metrics: { tokens: r * 100 } })
        httpLatencies.push(nowMs() - at)
        return true
      })
    }
    const waitUntil = nowMs() + 120_000
    while (arrivals.size < sentAt.size && nowMs() < waitUntil) await sleep(50)
    for (const [k, at] of sentAt) {
      const got = arrivals.get(k)
      if (got !== undefined) latencies.push(got - at)
    }
    // One update at a time, each waiting for its change on the live view: the pipeline's own latency
    // with every actor active, without the backlog the rounds above build up.
    const paced: Array<number> = []
    for (let i = 0; i < c.paced && ids.length > 0; i++) {
      const { id, t } = ids[(i * 7919) % ids.length]!
      const progress = 50 + (i % 40)
      const k = `${id}:${progress}`
      arrivals.delete(k)
      const at = nowMs()
      await send(`${c.baseUrl}/api/executions/${id}`, t.key, "PATCH", { progressPercentage: progress })
      const until = nowMs() + 30_000
      while (!arrivals.has(k) && nowMs() < until) await sleep(2)
      const got = arrivals.get(k)
      if (got !== undefined) paced.push(got - at)
    }
    const metrics = await scrape(c.baseUrl)
    const activeActors = Number(/^mplp_trace_actors_active(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1] ?? "NaN")
    log(`active: ${sentAt.size} updates, ${latencies.length} seen live; ${activeActors} active trace actors`)
    return {
      executions: ids.length, updates: sentAt.size, seenLive: latencies.length, activeActors, startSeconds,
      updateToLive: latencyStats(latencies), updateHttp: latencyStats(httpLatencies), paced: latencyStats(paced), pacedSeen: paced.length
    }
  } finally {
    for (const s of streams) s.close()
  }
}
