import { Either } from "effect"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"
import { evaluate } from "../../src/detection/evaluate.ts"
import { initial } from "../../src/detection/ewma.ts"
import type { DetectorState } from "../../src/detection/ewma.ts"
import type { ClosedWindow } from "../../src/domain/pipeline.ts"
import { decodeSettings } from "../../src/domain/settings.ts"

// The product defaults, as a new tenant gets them (detector on, 10 warm-up windows, z 3 / 4.5).
const defaults = JSON.parse(readFileSync(new URL("../../tenants/default.json", import.meta.url), "utf8")) as unknown
const settings = Either.getOrThrow(decodeSettings(defaults, {}))

const window = (metricName: string, i: number, count: number, failures: number): ClosedWindow => ({
  metricName, serviceName: "checkout", operation: "POST /pay", seriesKey: `${metricName}|checkout|POST /pay`,
  windowStartMs: i * 60_000, windowEndMs: (i + 1) * 60_000, count, mean: failures / count, min: failures === count ? 1 : 0,
  max: failures > 0 ? 1 : 0, p95: null
})

/** The anomaly severity of the window after `history` windows of the same series. */
const severityAfter = (metricName: string, history: ReadonlyArray<ClosedWindow>, next: ClosedWindow) => {
  let state: DetectorState = initial()
  for (const w of history) state = evaluate(settings, state, w).state
  return evaluate(settings, state, next).evaluations.find((e) => e.rule === "anomaly")
}

const clean = (count: number) => Array.from({ length: 30 }, (_, i) => window("errorRate", i, count, 0))

describe("the detector on an error rate that has always been 0", () => {
  it("does not call one failure among a window's requests an anomaly", () => {
    for (const count of [1, 5, 20, 200]) {
      const e = severityAfter("errorRate", clean(count), window("errorRate", 30, count, 1))
      expect(e?.severity, `1 failure in ${count}`).toBe("none")
      expect(e?.z ?? 0).toBeLessThan(1e6)
    }
  })

  it("still calls a real jump an anomaly: half of a window's requests failing is critical", () => {
    for (const count of [10, 20, 200]) {
      const e = severityAfter("errorRate", clean(count), window("errorRate", 30, count, count / 2))
      expect(e?.severity, `${count / 2} failures in ${count}`).toBe("critical")
    }
    // 10 % of 200 requests failing, after 30 clean windows, is also well outside the noise.
    expect(severityAfter("errorRate", clean(200), window("errorRate", 30, 200, 20))?.severity).not.toBe("none")
  })

  it("leaves other series alone: a flat non-fraction series still moves on 1 % of its level", () => {
    const flat = Array.from({ length: 30 }, (_, i) => ({ ...window("queueDepth", i, 10, 0), mean: 100, min: 100, max: 100 }))
    expect(severityAfter("queueDepth", flat, { ...window("queueDepth", 30, 10, 0), mean: 110, min: 110, max: 110 })?.severity).toBe("critical")
    expect(severityAfter("queueDepth", flat, { ...window("queueDepth", 30, 10, 0), mean: 101, min: 101, max: 101 })?.severity).toBe("none")
  })
})

describe("which way a series may go wrong", () => {
  const steady = (metricName: string, level: number) =>
    Array.from({ length: 30 }, (_, i) => ({ ...window(metricName, i, 10, 0), mean: level + (i % 3) - 1, min: level - 1, max: level + 1 }))
  const at = (metricName: string, value: number): ClosedWindow => ({ ...window(metricName, 30, 10, 0), mean: value, min: value, max: value })

  it("a latency, a duration, tokens or a cost that drops is not an anomaly; one that rises is", () => {
    for (const name of ["responseTimeMs", "genai.model.latencyMs", "gen_ai.client.operation.duration", "genai.agent.tokens", "genai.model.costUsd"]) {
      expect(severityAfter(name, steady(name, 200), at(name, 100))?.severity, `${name} halved`).toBe("none")
      expect(severityAfter(name, steady(name, 200), at(name, 400))?.severity, `${name} doubled`).toBe("critical")
    }
  })

  it("a drop still counts where it may be the incident: a custom gauge, a call count", () => {
    for (const name of ["queueDepth", "genai.model.calls", "requestsPerSecond"]) {
      expect(severityAfter(name, steady(name, 200), at(name, 100))?.severity, `${name} halved`).toBe("critical")
    }
  })

  it("a GenAI error rate gets the error rate's floor: one failed call among a window's is not an anomaly", () => {
    const clean = Array.from({ length: 30 }, (_, i) => window("genai.model.errorRate", i, 20, 0))
    expect(severityAfter("genai.model.errorRate", clean, window("genai.model.errorRate", 30, 20, 1))?.severity).toBe("none")
    expect(severityAfter("genai.model.errorRate", clean, window("genai.model.errorRate", 30, 20, 10))?.severity).toBe("critical")
  })
})

