export type Severity = "none" | "warning" | "critical"

const RANK: Record<Severity, number> = { none: 0, warning: 1, critical: 2 }

export const severityRank = (s: Severity): number => RANK[s]

export interface ThresholdRule {
  readonly warning?: number
  readonly critical?: number
  readonly direction?: "above" | "below"
}

/** Critical wins over warning; comparisons are inclusive. NaN never breaches. */
export const evaluateThreshold = (rule: ThresholdRule, value: number): Severity => {
  const breaches = (level: number | undefined) =>
    level !== undefined && (rule.direction === "below" ? value <= level : value >= level)
  if (breaches(rule.critical)) return "critical"
  if (breaches(rule.warning)) return "warning"
  return "none"
}

/** Product seed defaults; errorRate is a fraction in [0, 1]. */
export const defaultThresholds: Readonly<Record<string, ThresholdRule>> = {
  cpuUsagePercent: { warning: 80, critical: 95 },
  memoryUsagePercent: { warning: 90, critical: 98 },
  responseTimeMs: { warning: 5000, critical: 10000 },
  errorRate: { warning: 0.05, critical: 0.2 }
}

/** Own keys only, so a metric named e.g. "constructor" never picks up a prototype member. */
export const thresholdFor = (
  metricName: string,
  thresholds: Readonly<Record<string, ThresholdRule>> = defaultThresholds
): ThresholdRule | undefined => (Object.hasOwn(thresholds, metricName) ? thresholds[metricName] : undefined)
