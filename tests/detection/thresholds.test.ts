import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import {
  defaultThresholds,
  evaluateThreshold,
  severityRank,
  thresholdFor,
  type ThresholdRule
} from "../../src/detection/thresholds.ts"

const numRuns = 200
const level = fc.option(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { nil: undefined })
const rule: fc.Arbitrary<ThresholdRule> = fc.record(
  { warning: level, critical: level, direction: fc.constantFrom<"above" | "below" | undefined>("above", "below", undefined) },
  { requiredKeys: [] }
)
const value = fc.double({ min: -2e6, max: 2e6, noNaN: true })

describe("thresholds", () => {
  it("seed defaults", () => {
    const cpu = thresholdFor("cpuUsagePercent")
    expect(cpu).toEqual({ warning: 80, critical: 95 })
    expect(evaluateThreshold(cpu ?? {}, 79.9)).toBe("none")
    expect(evaluateThreshold(cpu ?? {}, 80)).toBe("warning")
    expect(evaluateThreshold(cpu ?? {}, 95)).toBe("critical")
    expect(evaluateThreshold(defaultThresholds.errorRate ?? {}, 0.05)).toBe("warning")
    expect(evaluateThreshold(defaultThresholds.responseTimeMs ?? {}, 12_000)).toBe("critical")
    expect(evaluateThreshold(defaultThresholds.memoryUsagePercent ?? {}, 97.9)).toBe("warning")
  })

  it("below direction, missing levels, NaN and unknown metrics", () => {
    const low: ThresholdRule = { warning: 10, critical: 5, direction: "below" }
    expect(evaluateThreshold(low, 10)).toBe("warning")
    expect(evaluateThreshold(low, 5)).toBe("critical")
    expect(evaluateThreshold(low, 11)).toBe("none")
    expect(evaluateThreshold({ critical: 1 }, 2)).toBe("critical")
    expect(evaluateThreshold({}, 1e9)).toBe("none")
    expect(evaluateThreshold({ warning: 1 }, Number.NaN)).toBe("none")
    expect(thresholdFor("diskUsage")).toBeUndefined()
    expect(thresholdFor("constructor")).toBeUndefined()
    expect(thresholdFor("x", { x: { warning: 1 } })).toEqual({ warning: 1 })
  })

  it("severity helpers", () => {
    expect(severityRank("none")).toBeLessThan(severityRank("warning"))
  })

  it("property: monotone in the rule's direction", () => {
    fc.assert(
      fc.property(rule, value, value, (r, a, b) => {
        const [lo, hi] = a <= b ? [a, b] : [b, a]
        const [weaker, stronger] = r.direction === "below" ? [hi, lo] : [lo, hi]
        expect(severityRank(evaluateThreshold(r, stronger))).toBeGreaterThanOrEqual(severityRank(evaluateThreshold(r, weaker)))
      }),
      { numRuns }
    )
  })

  it("property: critical implies the critical level is reached; warning implies the warning level", () => {
    fc.assert(
      fc.property(rule, value, (r, v) => {
        const s = evaluateThreshold(r, v)
        const below = r.direction === "below"
        const reached = (l: number | undefined) => l !== undefined && (below ? v <= l : v >= l)
        if (s === "critical") expect(reached(r.critical)).toBe(true)
        if (s === "warning") expect(reached(r.warning) && !reached(r.critical)).toBe(true)
        if (s === "none") expect(reached(r.warning) || reached(r.critical)).toBe(false)
      }),
      { numRuns }
    )
  })
})
