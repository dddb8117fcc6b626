import { partitionOf } from "../src/queues/keys.ts"
import { DEFAULT_PARTITIONS } from "../src/queues/IngestPartitions.ts"
import { adminCall, createTenant, nowMs, sleep } from "./client.ts"
import type { Tenant } from "./client.ts"
import { latencyStats, log } from "./loadUtil.ts"
import type { Common } from "./loadUtil.ts"

// noisy: a loud tenant A offers 10× its points quota in 2,000-point batches from several clients,
// while quiet tenants B (`quietTenants` of them) each send one-point batches at 10 % of their requests
// quota. B's 202 → stored (its ingest job completed: rows committed) is measured alone, then with A.
// Several quiet tenants, not one: one at 10 % of the default quota sends 5 batches a second, so its
// "p99" over a 20 s phase is the largest of ~100 samples; eight give ~800 per phase. Every tenant has
// the service's default settings (quotas, backlog share).

export interface NoisyConfig extends Common {
  readonly mode: "noisy"
  readonly seconds: number
  readonly loudClients: number
  readonly loudBatch: number
  readonly quietTenants: number
}

interface Sent {
  readonly jobId: string
  readonly acceptedAt: number
}

const point = (name: string, i: number) => ({ name, value: i % 100, serviceName: "noisy" })

/** Sends one-point batches at `perSecond` until `untilMs`; returns the accepted jobs and the refusals. */
const quiet = async (c: NoisyConfig, t: Tenant, perSecond: number, untilMs: number) => {
  const sent: Array<Sent> = []
  const refused: Record<string, number> = {}
  const reasons: Record<string, string> = {}
  const inflight: Array<Promise<void>> = []
  // How long each POST took to be answered, and how late the client sent it (its event loop busy): what
  // B sees of the API, and whether a burst of B's requests was the client's own doing.
  const requestMs: Array<number> = []
  const lateMs: Array<number> = []
  const gap = 1000 / perSecond
  for (let i = 0, next = nowMs(); next < untilMs; i++, next += gap) {
    await sleep(Math.max(0, next - nowMs()))
    inflight.push((async () => {
      const t0 = nowMs()
      lateMs.push(Math.max(0, t0 - next))
      const r = await fetch(`${c.baseUrl}/api/metrics`, {
        method: "POST", headers: { authorization: `Bearer ${t.key}`, "content-type": "application/json" },
        body: JSON.stringify({ points: [point("quiet", i)] })
      }).catch(() => undefined)
      const at = nowMs()
      requestMs.push(at - t0)
      if (r?.status === 202) sent.push({ jobId: ((await r.json()) as { jobId: string }).jobId, acceptedAt: at })
      else {
        const k = String(r?.status ?? "network")
        refused[k] = (refused[k] ?? 0) + 1
        // The first answer of each kind, to say why a quiet tenant was refused.
        const text = (await r?.text()) ?? ""
        reasons[k] ??= text.slice(0, 300)
      }
    })())
  }
  await Promise.all(inflight)
  return { sent, refused, reasons, requestMs, lateMs }
}

/** Each client offers `perClient` batches a second of `batch` points until `untilMs`, whatever the answer. */
const loud = async (c: NoisyConfig, t: Tenant, perClient: number, untilMs: number) => {
  const statuses: Record<string, number> = {}
  let acceptedPoints = 0
  const body = JSON.stringify({ points: Array.from({ length: c.loudBatch }, (_, i) => point(`loud${i % 20}`, i)) })
  await Promise.all(Array.from({ length: c.loudClients }, async (_, k) => {
    const gap = 1000 / perClient
    for (let next = nowMs() + (k * gap) / c.loudClients; next < untilMs; next += gap) {
      await sleep(Math.max(0, next - nowMs()))
      const r = await fetch(`${c.baseUrl}/api/metrics`, {
        method: "POST", headers: { authorization: `Bearer ${t.key}`, "content-type": "application/json" }, body
      }).catch(() => undefined)
      const s = String(r?.status ?? "network")
      statuses[s] = (statuses[s] ?? 0) + 1
      if (r?.status === 202) acceptedPoints += c.loudBatch
      await r?.text()
    }
  }))
  return { statuses, acceptedPoints }
}

/**
 * One job-status read per this many ms at most, per tenant: every request counts toward the tenant's
 * requests quota (50 a second by default), and reads back to back (a few ms each) used up the second
 * in which the next phase's first batches came, which were then refused (seen: 8–24 of B's batches
 * refused, "over its quota of 50 requests per second", with 1–2 of them sent in that second).
 */
const POLL_GAP_MS = 25

/** 202 → stored per accepted batch (the job's finishedAt), and the batches never stored (loss). */
const storedLatencies = async (c: NoisyConfig, t: Tenant, sent: ReadonlyArray<Sent>, timeoutMs = 60_000) => {
  const deadline = nowMs() + timeoutMs
  const latencies: Array<number> = []
  const queued: Array<number> = []
  const working: Array<number> = []
  let lost = 0
  for (const s of sent) {
    for (;;) {
      await sleep(POLL_GAP_MS)
      const r = await fetch(`${c.baseUrl}/api/jobs/${s.jobId}`, { headers: { authorization: `Bearer ${t.key}` } })
      const j = r.status === 200 ? ((await r.json()) as { state: string; startedAt?: string; finishedAt?: string }) : (await r.text(), undefined)
      if (j?.state === "completed" && j.finishedAt !== undefined) {
        latencies.push(Math.max(0, Date.parse(j.finishedAt) - s.acceptedAt))
        if (j.startedAt !== undefined) {
          queued.push(Math.max(0, Date.parse(j.startedAt) - s.acceptedAt))
          working.push(Date.parse(j.finishedAt) - Date.parse(j.startedAt))
        }
        break
      }
      if (nowMs() > deadline) {
        lost++
        break
      }
      await sleep(200)
    }
  }
  return { latencies, queued, working, lost }
}

/**
 * The service's main-thread event loop over its last 10 s window (src/telemetry/eventLoop.ts, from
 * `/metrics`): how late it got to ready work (p99, ms) and how busy it was; undefined when not served.
 */
const eventLoop = async (c: NoisyConfig) => {
  const text = await fetch(`${c.baseUrl}/metrics`).then((r) => (r.ok ? r.text() : ""), () => "")
  const gauge = (name: string) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)`, "m").exec(text)
    return m === null ? undefined : Number(m[1])
  }
  const p99 = gauge("nodejs_eventloop_delay_p99")
  const utilization = gauge("nodejs_eventloop_utilization")
  return p99 === undefined || utilization === undefined ? undefined : { delayP99Ms: p99 * 1000, utilization }
}

/** The quiet tenants' batches sent side by side, and their 202 → stored figures pooled. */
const quietAll = async (c: NoisyConfig, bs: ReadonlyArray<Tenant>, perSecond: number, untilMs: number) => {
  const each = await Promise.all(bs.map((b) => quiet(c, b, perSecond, untilMs)))
  // Read as the sending ends: the last window is the phase's.
  const loop = await eventLoop(c)
  const stored = await Promise.all(bs.map((b, i) => storedLatencies(c, b, each[i]?.sent ?? [])))
  const refused: Record<string, number> = {}
  for (const e of each) for (const [k, n] of Object.entries(e.refused)) refused[k] = (refused[k] ?? 0) + n
  const reasons: Record<string, string> = Object.assign({}, ...each.map((e) => e.reasons))
  const latencies = stored.flatMap((x) => x.latencies)
  return {
    sent: each.reduce((n, e) => n + e.sent.length, 0), refused, reasons, lost: stored.reduce((n, x) => n + x.lost, 0),
    latencyMs: latencyStats(latencies), requestMs: latencyStats(each.flatMap((e) => e.requestMs)), sendLateMs: latencyStats(each.flatMap((e) => e.lateMs)), queuedMs: latencyStats(stored.flatMap((x) => x.queued)), workingMs: latencyStats(stored.flatMap((x) => x.working)),
    /** Every batch's 202 → stored, for percentiles pooled over runs. */
    latencies,
    eventLoop: loop
  }
}

export const noisyNeighbour = async (c: NoisyConfig) => {
  const a = await createTenant(c.baseUrl, c.adminToken, "loud", {})
  const bs = await Promise.all(Array.from({ length: c.quietTenants }, () => createTenant(c.baseUrl, c.adminToken, "quiet", {})))
  const b = bs[0]!
  const settings = (await (await adminCall(c.baseUrl, c.adminToken, "GET", `/api/admin/tenants/${a.id}/settings`)).json()) as {
    quotas: { requestsPerSecond: number; pointsPerSecond: number }
  }
  const loudPerSecond = (10 * settings.quotas.pointsPerSecond) / c.loudBatch
  const quietPerSecond = settings.quotas.requestsPerSecond / 10
  const partitions = Number(process.env.MPLP_QUEUE_PARTITIONS ?? DEFAULT_PARTITIONS)
  log(`A ${a.id} (partition ${partitionOf(a.id, partitions)}): ${loudPerSecond} × ${c.loudBatch} points/s from ${c.loudClients} clients; ` +
    `${bs.length} quiet tenants B (the first ${b.id}, partition ${partitionOf(b.id, partitions)}): ${quietPerSecond} one-point batches/s each`)

  const alone = await quietAll(c, bs, quietPerSecond, nowMs() + c.seconds * 1000)
  // The quota's one-second window of the last reads over before B sends again.
  await sleep(1100)
  const until = nowMs() + c.seconds * 1000
  const [withLoud, loudResult] = await Promise.all([quietAll(c, bs, quietPerSecond, until), loud(c, a, loudPerSecond / c.loudClients, until)])
  return {
    // Quiet tenants whose id hashes to A's ingest partition: their batches queue behind A's backlog there.
    partitions: { count: partitions, a: partitionOf(a.id, partitions), b: partitionOf(b.id, partitions), quietInA: bs.filter((q) => partitionOf(q.id, partitions) === partitionOf(a.id, partitions)).length },
    quotas: settings.quotas,
    quietTenants: bs.length,
    loud: { offeredPointsPerSecond: loudPerSecond * c.loudBatch, ...loudResult },
    alone,
    withLoud
  }
}
