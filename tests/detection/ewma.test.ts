import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import {
  detect,
  ewmaStep,
  initial,
  makeDetectConfig,
  Z_CAP,
  type DetectConfig,
  type Detection,
  type DetectorState
} from "../../src/detection/ewma.ts"

const defaultDetectConfig = makeDetectConfig()

const numRuns = 200
const run = (config: DetectConfig, xs: ReadonlyArray<number>, from: DetectorState = initial()) => {
  const out: Array<Detection> = []
  let state = from
  for (const x of xs) {
    const d = detect(config, state, x)
    out.push(d)
    state = d.state
  }
  return { state, out }
}
// Alternating 100 ± [0.8, 1]: random, yet never so flat that a tiny wobble is itself an anomaly.
const noise = (len: number) =>
  fc
    .array(fc.double({ min: 0.8, max: 1, noNaN: true }), { minLength: len, maxLength: len })
    .map((us) => us.map((u, i) => 100 + (i % 2 === 0 ? u : -u)))

describe("ewma", () => {
  it("first observation sets the mean; z is taken before the update", () => {
    const step = ewmaStep(0.5)
    const a = step(initial(), 10)
    expect(a).toMatchObject({ z: 0, state: { mean: 10, variance: 0, n: 1 } })
    const b = step(a.state, 12)
    expect(b.z).toBe(Z_CAP)
    expect(b.state).toMatchObject({ mean: 11, variance: 1, n: 2 })
    expect(step(b.state, 11 + 2).z).toBeCloseTo(2, 12)
  })

  it("flat baseline gives a finite, capped z and an absolute minSd softens it", () => {
    const { state } = run(defaultDetectConfig, Array(12).fill(5))
    expect(detect(defaultDetectConfig, state, 6)).toMatchObject({ z: Z_CAP, severity: "critical" })
    expect(detect(makeDetectConfig({ minSd: 1 }), state, 6)).toMatchObject({ z: 1, severity: "none" })
  })

  it("ignores non-finite observations", () => {
    const { state } = run(defaultDetectConfig, [1, 2, 3])
    expect(detect(defaultDetectConfig, state, Number.NaN)).toMatchObject({ state, severity: "none", z: 0 })
  })

  it("adapts to a permanent level shift after adaptAfter anomalous windows", () => {
    const config = makeDetectConfig({ warmupWindows: 5 })
    expect(config.adaptAfter).toBe(15)
    const base = Array.from({ length: 20 }, (_, i) => 100 + (i % 2 === 0 ? 1 : -1))
    const shifted = Array.from({ length: 25 }, (_, i) => 200 + (i % 2 === 0 ? 1 : -1))
    const { out } = run(config, [...base, ...shifted])
    const after = out.slice(base.length).map((d) => d.severity)
    expect(after.slice(0, 15).every((s) => s === "critical")).toBe(true)
    expect(after.slice(15).every((s) => s === "none")).toBe(true)
  })

  it("property: a constant series has z = 0 and is never anomalous", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: 1, max: 60 }), (c, len) => {
        for (const d of run(defaultDetectConfig, Array(len).fill(c)).out) {
          expect(d.z).toBe(0)
          expect(d.severity).toBe("none")
        }
      }),
      { numRuns }
    )
  })

  it("property: no anomaly during warm-up", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 10 }), (xs) => {
        expect(run(defaultDetectConfig, xs).out.every((d) => d.severity === "none" && !d.warmedUp)).toBe(true)
      }),
      { numRuns }
    )
  })

  it("property: after warm-up on 100 ± 1, mean + 10 sd (and 120) is critical", () => {
    fc.assert(
      fc.property(noise(20), (xs) => {
        const { state } = run(defaultDetectConfig, xs)
        const probe = detect(defaultDetectConfig, state, 100)
        expect(probe.warmedUp).toBe(true)
        expect(detect(defaultDetectConfig, state, probe.expected + 10 * probe.sd).severity).toBe("critical")
        expect(detect(defaultDetectConfig, state, 120).severity).toBe("critical")
        expect(detect(defaultDetectConfig, state, 80).severity).toBe("critical")
      }),
      { numRuns }
    )
  })

  it("property: a sustained spike keeps alerting and does not drag the baseline until adaptAfter", () => {
    fc.assert(
      fc.property(noise(20), fc.integer({ min: 1, max: 29 }), fc.double({ min: 130, max: 1e6, noNaN: true }), (xs, len, spike) => {
        const warm = run(defaultDetectConfig, xs).state
        expect(warm.streak).toBe(0)
        const { out, state } = run(defaultDetectConfig, Array(len).fill(spike), warm)
        expect(out.every((d) => d.severity === "critical")).toBe(true)
        expect(state).toMatchObject({ mean: warm.mean, variance: warm.variance, n: warm.n, streak: len })
        const back = detect(defaultDetectConfig, state, warm.mean)
        expect(back.severity).toBe("none")
        expect(back.state.streak).toBe(0)
      }),
      { numRuns }
    )
  })

  it("property: state and outputs stay finite for any finite input", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 80 }), (xs) => {
        const config = makeDetectConfig({ warmupWindows: 2, adaptAfter: 4 })
        for (const d of run(config, xs).out) {
          for (const v of [d.z, d.sd, d.expected, ...Object.values(d.state)]) expect(Number.isFinite(v)).toBe(true)
          expect(JSON.parse(JSON.stringify(d))).toEqual(d)
        }
      }),
      { numRuns }
    )
  })

  it("property: replaying a sequence is deterministic", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { maxLength: 80 }), (xs) => {
        expect(run(defaultDetectConfig, xs)).toEqual(run(defaultDetectConfig, xs))
      }),
      { numRuns }
    )
  })
})
