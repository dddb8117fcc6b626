import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { AggregationTemporality, MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics"
import { setTimeout as sleep } from "node:timers/promises"
import { observeEventLoop } from "../../src/telemetry/eventLoop.ts"
import { startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"

// The main thread's event-loop delay and utilisation (src/telemetry/eventLoop.ts), as the OpenTelemetry
// Node.js runtime conventions name them, each over the last completed window.

class Reader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE })
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

/** The gauges' values at one collection, by metric name. */
const collect = async (reader: Reader): Promise<Record<string, number>> => {
  const { resourceMetrics } = await reader.collect()
  const out: Record<string, number> = {}
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const m of scope.metrics) {
      const point = m.dataPoints[0]
      if (point !== undefined && typeof point.value === "number") out[m.descriptor.name] = point.value
    }
  }
  return out
}

/** Holds the thread, as a long synchronous task does. */
const block = (ms: number) => {
  const until = performance.now() + ms
  while (performance.now() < until) { /* busy */ }
}

describe("event loop gauges", () => {
  it("report a blocked loop as delay and utilisation, and forget it once a later window has passed without one", async () => {
    const reader = new Reader()
    const provider = new MeterProvider({ readers: [reader] })
    const stop = observeEventLoop(provider.getMeter("test"), 600, 10)
    try {
      await sleep(50)
      block(250)
      await sleep(40)
      // Within the first window: what was seen since the start.
      const during = await collect(reader)
      expect(Object.keys(during).sort()).toEqual([
        "nodejs.eventloop.delay.max", "nodejs.eventloop.delay.mean", "nodejs.eventloop.delay.min",
        "nodejs.eventloop.delay.p50", "nodejs.eventloop.delay.p90", "nodejs.eventloop.delay.p99", "nodejs.eventloop.utilization"
      ])
      expect(during["nodejs.eventloop.delay.max"]).toBeGreaterThan(0.2)
      expect(during["nodejs.eventloop.delay.max"]).toBeLessThan(1)
      expect(during["nodejs.eventloop.delay.p50"]).toBeLessThan(during["nodejs.eventloop.delay.max"]!)
      expect(during["nodejs.eventloop.utilization"]).toBeGreaterThan(0.5)
      // The first window ends at the next collection after 600 ms: it held the block, so the figures stay.
      await sleep(700)
      const first = await collect(reader)
      expect(first["nodejs.eventloop.delay.max"]).toBeGreaterThan(0.2)
      // A second window of an idle loop: the block is no longer reported.
      await sleep(700)
      const idle = await collect(reader)
      expect(idle["nodejs.eventloop.delay.max"]).toBeLessThan(0.1)
      // How late the loop was: an idle one is about on time (the sampling timer's own period is not counted).
      expect(idle["nodejs.eventloop.delay.p50"]).toBeLessThan(0.005)
      expect(idle["nodejs.eventloop.utilization"]).toBeLessThan(0.2)
      // Every reader of the window sees the same figures (no reset between two collections of one window).
      expect(await collect(reader)).toEqual(idle)
    } finally {
      stop()
      await provider.shutdown()
    }
  })

  describe("in the service's /metrics", () => {
    let app: TestApp
    beforeAll(async () => {
      app = await startApp()
    })
    afterAll(async () => {
      await app.close()
    })

    it("are served with the service's own metrics", async () => {
      const text = await (await fetch(`${app.baseUrl}/metrics`)).text()
      for (const k of ["min", "max", "mean", "p50", "p90", "p99"]) expect(text).toMatch(new RegExp(`^nodejs_eventloop_delay_${k}\\S* [0-9.e+-]+`, "m"))
      const utilization = /^nodejs_eventloop_utilization\S* ([0-9.e+-]+)/m.exec(text)
      expect(Number(utilization?.[1])).toBeGreaterThan(0)
      expect(Number(utilization?.[1])).toBeLessThanOrEqual(1)
    })
  })
})
