import { createHash } from "node:crypto"
import { formatUsd } from "../domain/money.ts"
import type { EvaluationMsg } from "../domain/pipeline.ts"
import { notifies, step, withAlertId } from "./policy.ts"
import type { Action, AlertState } from "./policy.ts"

// The alert policy path of one evaluation, pure: the policy's step (src/alerting/policy.ts) with the
// alert ids, titles, notifications and payloads it leads to. alertRows.ts writes the plan in one
// transaction; the in-memory AlertRows.Test applies the same plan.

export const hash = (s: string) => createHash("sha256").update(s).digest("hex").slice(0, 24)

export const envelope = (eventType: string, data: Record<string, unknown>) => ({ type: eventType, timestamp: new Date().toISOString(), data })

export const eventTypeOf = (rule: EvaluationMsg["rule"]) => (rule === "anomaly" ? "anomaly_detected" : rule === "budget" ? "budget_exceeded" : "threshold_exceeded")
export const titleOf = (ev: EvaluationMsg) =>
  ev.rule === "budget"
    ? `${ev.operation}: ${formatUsd(ev.value)} spent, ${ev.severity === "critical" ? "over the limit" : "past the warning level"} (${formatUsd(ev.threshold ?? 0)})`
    : `${ev.metricName}${ev.serviceName === "" ? "" : ` of ${ev.serviceName}`}${ev.operation === "" ? "" : ` (${ev.operation})`}: ${ev.rule === "anomaly" ? "anomalous" : "over threshold"}`

export interface Notification {
  readonly messageId: string
  readonly alertId: string | null
  readonly eventType: string
  readonly payload: Record<string, unknown>
}

export interface EvaluationPlan {
  /** The policy state to store for (series, rule). */
  readonly state: AlertState
  /** The alert row each action touches (an Open inserts it). */
  readonly writes: ReadonlyArray<{ readonly alertId: string; readonly action: Action }>
  readonly notifications: ReadonlyArray<Notification>
}

/** An evaluation against the stored state of its (series, rule); a replayed window plans nothing. */
export const planEvaluation = (tenantId: string, policy: { cooldownMs: number; resolveAfterWindows: number }, before: AlertState, ev: EvaluationMsg, nowMs: number): EvaluationPlan => {
  // A budget is back under as soon as one evaluation says so: its "window" is a rolling sum, not a sample.
  const result = step({ ...policy, renotify: true, ...(ev.rule === "budget" ? { resolveAfterWindows: 1 } : {}) }, before, { ...ev, expected: ev.expected ?? undefined, z: ev.z ?? undefined }, nowMs)
  let state = result.state
  const writes: Array<{ alertId: string; action: Action }> = []
  const notifications: Array<Notification> = []
  for (const action of result.actions) {
    const alertId = action._tag === "Open" ? `al_${hash(`${tenantId}|${ev.seriesKey}|${ev.rule}|${ev.windowStartMs}`)}` : before.status === "ok" ? undefined : before.alertId
    if (alertId === undefined) continue
    if (action._tag === "Open") state = withAlertId(state, alertId)
    writes.push({ alertId, action })
    if (!notifies(action)) continue
    const eventType = action._tag === "Resolve" ? "alert_resolved" : eventTypeOf(ev.rule)
    const messageId = `${alertId}.${action._tag.toLowerCase()}.${ev.windowStartMs}`
    notifications.push({ messageId, alertId, eventType, payload: envelope(eventType, payloadOf(tenantId, alertId, action, ev, state)) })
  }
  return { state, writes, notifications }
}

const payloadOf = (tenantId: string, alertId: string, action: Action, ev: EvaluationMsg, state: AlertState) => ({
  alertId, tenantId, action: action._tag.toLowerCase(),
  state: action._tag === "Resolve" ? "resolved" : state.status === "ok" ? "open" : state.status,
  severity: action._tag === "Resolve" ? null : ev.severity,
  ...(action._tag === "Escalate" ? { previousSeverity: action.from } : {}),
  rule: ev.rule, metric: ev.metricName, service: ev.serviceName, operation: ev.operation, seriesKey: ev.seriesKey,
  observed: ev.value, expected: ev.expected, sd: ev.sd, z: ev.z, threshold: ev.threshold,
  windowStart: new Date(ev.windowStartMs).toISOString(), windowEnd: new Date(ev.windowEndMs).toISOString()
})
