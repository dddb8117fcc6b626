import { common, fig, fmt, log, waitIdle } from "./harness.ts"
import type { Options, ServiceHolder } from "./harness.ts"
import type { AlertConfig } from "./loadAlert.ts"
import { spawnLoadgen } from "./loadgenProcess.ts"
import { percentile } from "./stats.ts"

// The alert-latency scenario: from a spike's 202 to its signed webhook, under a steady background load.

type AlertResult = {
  monoStartUs: number; monoEndUs: number; allDelivered: boolean; spikes: number; delivered: number; invalidSignatures: number; unexpectedAlerts: number
  latencyMs: { p50: number; p90: number; p99: number; max: number }
  perSpike: ReadonlyArray<{ latencyMs: number | null; untilWindowEndMs?: number; windowEndToNotificationMs?: number; notificationToDeliveryMs?: number }>
}

export const runAlert = async (o: Options, holder: ServiceHolder) => {
  const t0 = performance.now()
  const s = await holder.get()
  const lateness = 1
  const spikes = Math.max(5, Math.min(20, Math.round(1.2 * o.duration)))
  const runs: Array<AlertResult & { idleWaitSeconds: number }> = []
  for (let r = 0; r < o.runs; r++) {
    const idleWaitSeconds = await waitIdle(s)
    const config: AlertConfig = {
      ...common(s), mode: "alert", spikes, spikeGapMs: 1000, windowSeconds: o.window, latenessSeconds: lateness,
      warmupWindows: 5, backgroundIntervalMs: 250, timeoutSeconds: 30
    }
    log(`alert-latency run ${r + 1}/${o.runs}: ${spikes} spikes, ${o.window} s windows, ${lateness} s lateness`)
    const v = await spawnLoadgen<AlertResult>(config, o.verbose).done
    holder.mark({ label: `alert-latency (${o.runs} runs, spikes until the last webhook)`, startUs: v.monoStartUs, endUs: v.monoEndUs })
    log(`  delivered ${v.delivered}/${v.spikes}: p50 ${fmt(v.latencyMs.p50)} ms, p99 ${fmt(v.latencyMs.p99)} ms`)
    runs.push({ ...v, idleWaitSeconds })
  }
  const budgetMs = (o.window + lateness) * 1000
  const pooled = runs.flatMap((x) => x.perSpike.flatMap((p) => (p.latencyMs === null ? [] : [p.latencyMs])))
  const part = (k: "untilWindowEndMs" | "windowEndToNotificationMs" | "notificationToDeliveryMs") =>
    runs.map((x) => percentile(x.perSpike.flatMap((p) => (p[k] === undefined ? [] : [p[k]])), 50))
  return {
    scenario: "alert-latency" as const,
    seconds: (performance.now() - t0) / 1000,
    measured: `a tenant with ${o.window} s windows, ${lateness} s allowed lateness, detector warm-up 5 windows and a webhook channel to a loopback sink in the load generator (signatures verified); ` +
      `${spikes} series get one point every 250 ms (server time, value 100 ± 0.5); after the warm-up each series gets one spike (10000), 1 s apart; latency = the signed anomaly_detected webhook's arrival − the spike's 202`,
    figures: [
      fig("alert-latency", "202 → webhook p50 (per run)", "ms", runs.map((x) => x.latencyMs.p50)),
      fig("alert-latency", "202 → webhook p99 (per run)", "ms", runs.map((x) => x.latencyMs.p99)),
      fig("alert-latency", "p50 / (window + lateness)", "ratio", runs.map((x) => x.latencyMs.p50 / budgetMs)),
      fig("alert-latency", "p99 / (window + lateness)", "ratio", runs.map((x) => x.latencyMs.p99 / budgetMs)),
      fig("alert-latency", "  part: 202 → window end (median)", "ms", part("untilWindowEndMs")),
      fig("alert-latency", "  part: window end → + lateness (fixed)", "ms", runs.map(() => lateness * 1000)),
      fig("alert-latency", "  part: window closable → notification written (median)", "ms", part("windowEndToNotificationMs").map((x) => x - lateness * 1000)),
      fig("alert-latency", "  part: notification → webhook received (median)", "ms", part("notificationToDeliveryMs")),
      fig("alert-latency", "spikes delivered", "count", runs.map((x) => x.delivered))
    ],
    details: { windowSeconds: o.window, latenessSeconds: lateness, budgetMs, pooled: { samples: pooled.length, p50: percentile(pooled, 50), p99: percentile(pooled, 99), max: Math.max(...pooled) }, runs },
    pooledP99: percentile(pooled, 99),
    budgetMs
  }
}
