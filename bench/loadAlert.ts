import { createServer } from "node:http"
import type { Server } from "node:http"
import { isValid } from "../src/alerting/signing.ts"
import { createTenant, nowMs, sleep, UNLIMITED, until } from "./client.ts"
import { latencyStats, retryAfterMs } from "./loadUtil.ts"
import type { Common } from "./loadUtil.ts"

export interface AlertConfig extends Common {
  readonly mode: "alert"
  readonly spikes: number
  readonly spikeGapMs: number
  readonly windowSeconds: number
  readonly latenessSeconds: number
  readonly warmupWindows: number
  readonly backgroundIntervalMs: number
  readonly timeoutSeconds: number
}

// alert-latency: steady series, one spike per series, 202 → signed webhook at a loopback sink

interface Received {
  readonly at: number
  readonly valid: boolean
  readonly type: string
  readonly service: string
  readonly envelopeAt: number
  readonly windowStart: number
  readonly windowEnd: number
}

const startSink = (secret: string) =>
  new Promise<{ url: string; received: Array<Received>; server: Server }>((resolve) => {
    const received: Array<Received> = []
    const seen = new Set<string>()
    const server = createServer((req, res) => {
      let body = ""
      req.on("data", (d: Buffer) => (body += d.toString()))
      req.on("end", () => {
        const at = nowMs()
        const id = String(req.headers["webhook-id"] ?? "")
        if (!seen.has(id)) {
          seen.add(id)
          try {
            const parsed = JSON.parse(body) as { type: string; timestamp: string; data: { service?: string; windowStart?: string; windowEnd?: string } }
            received.push({
              at,
              valid: isValid({ headers: req.headers, body, secret, nowSec: Date.now() / 1000 }),
              type: parsed.type,
              service: parsed.data.service ?? "",
              envelopeAt: Date.parse(parsed.timestamp),
              windowStart: Date.parse(parsed.data.windowStart ?? ""),
              windowEnd: Date.parse(parsed.data.windowEnd ?? "")
            })
          } catch {
            // an unparseable body is simply not counted
          }
        }
        res.statusCode = 200
        res.end()
      })
    })
    server.keepAliveTimeout = 60_000
    server.listen(0, "127.0.0.1", () => {
      const a = server.address()
      resolve({ url: `http://127.0.0.1:${typeof a === "object" && a !== null ? a.port : 0}/hook`, received, server })
    })
  })

export const alertLatency = async (c: AlertConfig) => {
  const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
  const sink = await startSink(secret)
  try {
    const tenant = await createTenant(c.baseUrl, c.adminToken, "bench-alert", {
      ...UNLIMITED,
      windows: { sizeSeconds: c.windowSeconds, allowedLatenessSeconds: c.latenessSeconds, idleTimeoutSeconds: 1 },
      detector: { warmupWindows: c.warmupWindows },
      alerting: { cooldownSeconds: 60, resolveAfterWindows: 2 },
      channels: [{ id: "sink", type: "webhook", url: sink.url, secret }]
    })
    const auth = { authorization: `Bearer ${tenant.key}`, "content-type": "application/json" }
    const services = Array.from({ length: c.spikes }, (_, i) => `spike-${String(i).padStart(2, "0")}`)
    const post = async (points: ReadonlyArray<Record<string, unknown>>) => {
      for (;;) {
        const res = await fetch(`${c.baseUrl}/api/metrics`, { method: "POST", headers: auth, body: JSON.stringify({ points }) })
        await res.arrayBuffer()
        if (res.status === 202) return nowMs()
        if (res.status === 429 || res.status === 503) {
          await sleep(retryAfterMs(res))
          continue
        }
        throw new Error(`POST /api/metrics: HTTP ${res.status}`)
      }
    }
    // Background: every series gets one point per interval, value 100 ± 0.5 (server time).
    let running = true
    let backgroundRequests = 0
    let seq = 0
    const background = (async () => {
      while (running) {
        const started = nowMs()
        seq++
        await post(services.map((s, i) => ({ name: "benchSignal", serviceName: s, value: 100 + (((seq + i) % 3) - 1) * 0.5 })))
        backgroundRequests++
        await sleep(Math.max(0, c.backgroundIntervalMs - (nowMs() - started)))
      }
    })()
    // Enough closed and evaluated windows for every series' detector to be warm.
    const warmupMs = ((c.warmupWindows + 3) * c.windowSeconds + c.latenessSeconds + 1) * 1000
    await sleep(warmupMs)
    const falseBefore = sink.received.length
    const monoStartUs = Number(process.hrtime.bigint() / 1000n)
    const spikes: Array<{ service: string; sentAt: number; acceptedAt: number }> = []
    for (const service of services) {
      const sentAt = nowMs()
      const acceptedAt = await post([{ name: "benchSignal", serviceName: service, value: 10_000 }])
      spikes.push({ service, sentAt, acceptedAt })
      await sleep(c.spikeGapMs)
    }
    const alertFor = (service: string) => sink.received.find((r) => r.type === "anomaly_detected" && r.service === service)
    const all = await until(async () => spikes.every((s) => alertFor(s.service) !== undefined), c.timeoutSeconds * 1000, 20)
    running = false
    await background
    const monoEndUs = Number(process.hrtime.bigint() / 1000n)
    const perSpike = spikes.map((s) => {
      const a = alertFor(s.service)
      return a === undefined
        ? { service: s.service, acceptedAt: s.acceptedAt, latencyMs: null }
        : {
            service: s.service,
            acceptedAt: s.acceptedAt,
            latencyMs: a.at - s.acceptedAt,
            validSignature: a.valid,
            // where the time went: the window has to end, then wait out the lateness; then detection,
            // the alert policy (the envelope is stamped there) and the delivery
            untilWindowEndMs: a.windowEnd - s.acceptedAt,
            windowEndToNotificationMs: a.envelopeAt - a.windowEnd,
            notificationToDeliveryMs: a.at - a.envelopeAt
          }
    })
    const latencies = perSpike.flatMap((p) => (p.latencyMs === null ? [] : [p.latencyMs]))
    const detected = new Set(spikes.map((s) => s.service))
    return {
      tenantId: tenant.id,
      monoStartUs,
      monoEndUs,
      allDelivered: all,
      spikes: spikes.length,
      delivered: latencies.length,
      invalidSignatures: perSpike.filter((p) => "validSignature" in p && p.validSignature === false).length,
      backgroundRequests,
      warmupSeconds: warmupMs / 1000,
      unexpectedAlertsBeforeSpikes: sink.received.slice(0, falseBefore).filter((r) => r.type !== "alert_resolved").length,
      unexpectedAlerts: sink.received.filter((r) => r.type === "anomaly_detected" && !detected.has(r.service)).length,
      latencyMs: latencyStats(latencies),
      perSpike
    }
  } finally {
    await new Promise<void>((r) => sink.server.close(() => r()))
    sink.server.closeAllConnections()
  }
}
