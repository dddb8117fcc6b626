import type { Severity } from "./thresholds.ts"

export interface EwmaState {
  readonly mean: number
  readonly variance: number
  readonly n: number
}

/**
 * Baseline plus the current run of consecutive anomalies. While anomalous, the baseline is
 * frozen and the anomalous values feed a shadow EWMA; after `adaptAfter` consecutive
 * anomalies the shadow becomes the baseline, so a permanent level shift becomes normal.
 */
export interface DetectorState extends EwmaState {
  readonly streak: number
  readonly shadowMean: number
  readonly shadowVariance: number
}

export interface DetectConfig {
  readonly alpha: number
  readonly warmupWindows: number
  readonly zWarning: number
  readonly zCritical: number
  readonly adaptAfter: number
  /** Absolute floor on the standard deviation, for series that are flat by nature. */
  readonly minSd: number
  /** "up": only values above the baseline are anomalous (a latency or an error rate that drops is good news). */
  readonly direction: "both" | "up"
}

export const makeDetectConfig = (c: Partial<DetectConfig> = {}): DetectConfig => {
  const warmupWindows = c.warmupWindows ?? 10
  return {
    alpha: c.alpha ?? 0.3,
    warmupWindows,
    zWarning: c.zWarning ?? 3,
    zCritical: c.zCritical ?? 4.5,
    adaptAfter: c.adaptAfter ?? 3 * warmupWindows,
    minSd: c.minSd ?? 0,
    direction: c.direction ?? "both"
  }
}

export const initial = (): DetectorState => ({ mean: 0, variance: 0, n: 0, streak: 0, shadowMean: 0, shadowVariance: 0 })

/** |z| is capped so that a flat baseline never yields ±Infinity (JSON has no Infinity). */
export const Z_CAP = 1e6

// Clamping to ±MAX_VALUE keeps every state finite even for inputs near ±1.8e308.
const clampFinite = (v: number) => Math.min(Number.MAX_VALUE, Math.max(-Number.MAX_VALUE, v))

/** sd floored at max(minSd, 1e-9 * max(1, |mean|)): a flat baseline still gives a finite z. */
export const sdOf = (s: EwmaState, minSd = 0): number =>
  Math.max(Math.sqrt(s.variance), minSd, 1e-9 * Math.max(1, Math.abs(s.mean)))

/**
 * Series where only a rise is trouble: durations, error rates, GenAI tokens and cost. A drop feeds the
 * baseline like any normal value. Other series (custom gauges, call counts) alert both ways: a
 * throughput or a queue that falls to nothing may be the incident.
 */
export const higherIsWorse = (metricName: string): boolean =>
  /(latencyMs|responseTimeMs|durationMs|Duration|\.duration|errorRate|\.tokens|costUsd|CostUsd)$/.test(metricName)

/** Series whose values are fractions of events in a window (0 or 1 per event, averaged): spans' and GenAI calls' error rates. */
export const isFractionSeries = (metricName: string): boolean => metricName === "errorRate" || metricName.endsWith(".errorRate")

/** A fraction series must move by at least this many points of 1 (× zWarning) to be anomalous. */
export const FRACTION_MIN_SD = 0.01

/**
 * The floor on the standard deviation of one window, beyond the EWMA's own variance.
 * Any series: 1 % of its level, so a flat series does not alert on floating-point wobble.
 * A fraction series (an error rate) has no level to take 1 % of when it has always been 0, and
 * one failure among a window's few events is not an anomaly: its floor is the binomial standard
 * error of the window, sqrt(p(1-p)/n) with p at least 1/n (at most 0.5), and never under 1 point.
 * Without it, an error rate that was always 0 alerted (critical, z at its cap) on every failure.
 */
export const sdFloor = (metricName: string, mean: number, count: number, relative = 0.01): number => {
  const levelFloor = relative * Math.abs(mean)
  if (!isFractionSeries(metricName)) return levelFloor
  const n = Math.max(1, count)
  const p = Math.min(0.5, Math.max(Math.abs(mean), 1 / n))
  return Math.max(levelFloor, FRACTION_MIN_SD, Math.sqrt((p * (1 - p)) / n))
}

/** z of x against s (before any update); 0 before the first observation or when x equals the mean. */
export const zScore = (s: EwmaState, x: number, minSd = 0): number => {
  if (s.n === 0) return 0
  const d = clampFinite(x - s.mean)
  return d === 0 ? 0 : Math.min(Z_CAP, Math.max(-Z_CAP, d / sdOf(s, minSd)))
}

/** Preserves any extra fields of the state. The first observation sets mean = x, variance = 0. */
export const ewmaStep =
  (alpha: number, minSd = 0) =>
  <S extends EwmaState>(s: S, x: number): { readonly state: S; readonly z: number } => {
    if (!Number.isFinite(x)) return { state: s, z: 0 }
    // -0 would not survive a JSON round trip, so a replayed state would differ.
    if (s.n === 0) return { state: { ...s, mean: x === 0 ? 0 : x, variance: 0, n: 1 }, z: 0 }
    const d = clampFinite(x - s.mean)
    const state = {
      ...s,
      mean: clampFinite(s.mean + alpha * d),
      variance: clampFinite((1 - alpha) * (s.variance + alpha * d * d)),
      n: s.n + 1
    }
    return { state, z: zScore(s, x, minSd) }
  }

export const severityOf = (config: DetectConfig, z: number): Severity => {
  const a = Math.abs(z)
  return a >= config.zCritical ? "critical" : a >= config.zWarning ? "warning" : "none"
}

export interface Detection {
  readonly state: DetectorState
  readonly z: number
  readonly expected: number
  readonly sd: number
  readonly severity: Severity
  readonly warmedUp: boolean
}

/**
 * One observation (one closed window). Anomalies do not move the baseline (skip, not damp);
 * the window that reaches `adaptAfter` consecutive anomalies is still reported, then the
 * baseline jumps to the shadow. Non-finite x is ignored: state unchanged, severity "none".
 */
export const detect = (config: DetectConfig, state: DetectorState, x: number): Detection => {
  const warmedUp = state.n >= config.warmupWindows
  const sd = sdOf(state, config.minSd)
  const base = { expected: state.mean, sd, warmedUp }
  if (!Number.isFinite(x)) return { ...base, state, z: 0, severity: "none" }
  const z = zScore(state, x, config.minSd)
  const severity = warmedUp ? severityOf(config, config.direction === "up" ? Math.max(0, z) : z) : "none"
  if (severity === "none") {
    const next = ewmaStep(config.alpha, config.minSd)(state, x).state
    return { ...base, z, severity, state: { ...next, streak: 0, shadowMean: 0, shadowVariance: 0 } }
  }
  const shadowPrev: EwmaState = { mean: state.shadowMean, variance: state.shadowVariance, n: state.streak }
  const shadow = ewmaStep(config.alpha, config.minSd)(shadowPrev, x).state
  const streak = state.streak + 1
  const next: DetectorState =
    streak >= config.adaptAfter
      ? { mean: shadow.mean, variance: shadow.variance, n: state.n + streak, streak: 0, shadowMean: 0, shadowVariance: 0 }
      : { ...state, streak, shadowMean: shadow.mean, shadowVariance: shadow.variance }
  return { ...base, z, severity, state: next }
}
