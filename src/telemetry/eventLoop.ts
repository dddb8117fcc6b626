import type { Meter } from "@opentelemetry/api"
import { monitorEventLoopDelay, performance } from "node:perf_hooks"
import type { EventLoopUtilization } from "node:perf_hooks"

// The main thread's event loop, as the OpenTelemetry Node.js runtime conventions name it
// (semconv runtime/nodejs-metrics: nodejs.eventloop.delay.* gauges in seconds, nodejs.eventloop.utilization):
// under `npm start` one thread serves the API and runs every stage, so how late it gets to ready work
// is what a quiet tenant's request or batch waits on top of its own (the noisy-neighbour benchmark).
// Each value covers the last completed window of `windowMs` (until the first one ends: since the start),
// the same for every reader (`/metrics`, the OTLP export, the self tenant), whichever asks first.

const NS_PER_S = 1e9

export interface EventLoopStats {
  readonly min: number
  readonly max: number
  readonly mean: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  readonly utilization: number
}

/** Registers the gauges on `meter`; returns what stops the sampling. */
export const observeEventLoop = (meter: Meter, windowMs = 10_000, resolutionMs = 10): (() => void) => {
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs })
  const resolutionNs = resolutionMs * 1e6
  histogram.enable()
  let since = performance.now()
  let eluAt: EventLoopUtilization = performance.eventLoopUtilization()
  let last: EventLoopStats | undefined
  const current = (): EventLoopStats | undefined => {
    // No sample yet (the first resolution tick has not come): nothing to say.
    if (histogram.count === 0) return undefined
    const elu = performance.eventLoopUtilization(eluAt)
    // The histogram holds the time between the sampling timer's runs, so an idle loop reads `resolution`:
    // that is taken off, leaving how late the loop was.
    const late = (ns: number) => Math.max(0, ns - resolutionNs) / NS_PER_S
    return {
      min: late(histogram.min), max: late(histogram.max), mean: late(histogram.mean),
      p50: late(histogram.percentile(50)), p90: late(histogram.percentile(90)), p99: late(histogram.percentile(99)),
      utilization: elu.utilization
    }
  }
  const stats = (): EventLoopStats | undefined => {
    const now = performance.now()
    if (now - since < windowMs) return last ?? current()
    last = current() ?? last
    histogram.reset()
    eluAt = performance.eventLoopUtilization()
    since = now
    return last
  }
  for (const k of ["min", "max", "mean", "p50", "p90", "p99"] as const) {
    meter.createObservableGauge(`nodejs.eventloop.delay.${k}`, { description: `event loop ${k} delay of the main thread`, unit: "s" }).addCallback((o) => {
      const s = stats()
      if (s !== undefined) o.observe(s[k])
    })
  }
  const utilization = meter.createObservableGauge("nodejs.eventloop.utilization", { description: "share of the time the main thread's event loop was busy", unit: "1" })
  utilization.addCallback((o) => {
    const s = stats()
    if (s !== undefined) o.observe(s.utilization)
  })
  return () => histogram.disable()
}
