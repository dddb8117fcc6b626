import type { ClosedWindow, EvaluationMsg } from "../domain/pipeline.ts"
import type { TenantSettings } from "../domain/settings.ts"
import { detect, higherIsWorse, makeDetectConfig, sdFloor } from "./ewma.ts"
import type { DetectorState } from "./ewma.ts"
import { evaluateThreshold, thresholdFor } from "./thresholds.ts"
import type { Severity } from "./thresholds.ts"

// The detect stage's policy, pure: a closed window through its series' detector and threshold rule.
// Its SQL is in detectRows.ts, its worker in DetectStage.ts.

const evaluation = (w: ClosedWindow, rule: "anomaly" | "threshold", severity: Severity, extra: Partial<EvaluationMsg>): EvaluationMsg => ({
  metricName: w.metricName, serviceName: w.serviceName, operation: w.operation, seriesKey: w.seriesKey,
  rule, severity, windowStartMs: w.windowStartMs, windowEndMs: w.windowEndMs, value: w.mean,
  expected: null, sd: null, z: null, threshold: null, ...extra
})

/** Pure: one window through the series' detector and its threshold rule. */
export const evaluate = (settings: TenantSettings, state: DetectorState, w: ClosedWindow) => {
  const out: Array<EvaluationMsg> = []
  let next = state
  if (settings.detector.enabled) {
    const config = makeDetectConfig({ ...settings.detector, adaptAfter: 3 * settings.detector.warmupWindows, minSd: sdFloor(w.metricName, state.mean, w.count), direction: higherIsWorse(w.metricName) ? "up" : "both" })
    const d = detect(config, state, w.mean)
    next = d.state
    out.push(evaluation(w, "anomaly", d.severity, d.warmedUp ? { expected: d.expected, sd: d.sd, z: d.z } : {}))
  }
  const rule = thresholdFor(w.metricName, settings.thresholds)
  if (rule !== undefined) {
    const severity = evaluateThreshold(rule, w.mean)
    const level = severity === "critical" ? rule.critical : severity === "warning" ? rule.warning : undefined
    out.push(evaluation(w, "threshold", severity, { threshold: level ?? null }))
  }
  return { state: next, evaluations: out }
}
