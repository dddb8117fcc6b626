import { describe, expect, it } from "vitest"
import { computeBand } from "../../web/src/lib/band.ts"
import type { Window } from "../../web/src/lib/band.ts"

const w = (minute: number, mean: number, expected: number | null, sd: number | null, severity: Window["severity"] = null): Window => ({
  start: new Date(Date.UTC(2026, 10, 26, 10, minute)).toISOString(),
  end: new Date(Date.UTC(2026, 10, 26, 10, minute, 10)).toISOString(),
  count: 5, mean, min: mean, max: mean, p95: null, expected, sd, z: expected === null || sd === null || sd === 0 ? null : (mean - expected) / sd, severity
})

describe("expected band", () => {
  it("is expected ± zWarning · sd per window, in time order, empty while the detector warms up", () => {
    const band = computeBand([w(2, 400, 100, 20, "critical"), w(0, 100, null, null), w(1, 110, 100, 5)], 3)
    expect(band.x).toEqual([0, 1, 2].map((m) => Date.UTC(2026, 10, 26, 10, m) / 1000))
    expect(band.lower).toEqual([null, 85, 40])
    expect(band.upper).toEqual([null, 115, 160])
    expect(band.observed).toEqual([100, 110, 400])
  })

  it("marks the windows the detector flagged, by severity, at their observed value", () => {
    const band = computeBand([w(0, 100, 100, 5), w(1, 120, 100, 5, "warning"), w(2, 400, 100, 5, "critical")], 3)
    expect(band.warning).toEqual([null, 120, null])
    expect(band.critical).toEqual([null, null, 400])
    expect(band.anomalies).toBe(2)
  })
})
