import { severityRank, type Severity } from "../detection/thresholds.ts"
import type { ActiveState, AlertSeverity, AlertState } from "../domain/alertState.ts"

// The alert's state per (series, rule) is a domain type (the API acknowledges it too); its
// transitions on evaluations live here.
export { acknowledge } from "../domain/alertState.ts"
export type { ActiveState, AlertSeverity, AlertState, OkState } from "../domain/alertState.ts"

export type AlertRule = "anomaly" | "threshold" | "budget"

export interface Evaluation {
  readonly seriesKey: string
  readonly rule: AlertRule
  readonly severity: Severity
  readonly windowStartMs: number
  readonly value: number
  readonly expected?: number
  readonly z?: number
}

export type Action =
  | { readonly _tag: "Open"; readonly severity: AlertSeverity }
  | { readonly _tag: "Escalate"; readonly from: AlertSeverity; readonly to: AlertSeverity }
  | { readonly _tag: "Fold" }
  | { readonly _tag: "Renotify" }
  | { readonly _tag: "Resolve" }

/** Actions that send a notification; Fold only counts. */
export const notifies = (a: Action): boolean => a._tag !== "Fold"

export interface PolicyConfig {
  readonly cooldownMs: number
  readonly resolveAfterWindows: number
  /** Remind about an open (not acknowledged) alert once per cooldown while it keeps firing. */
  readonly renotify: boolean
}

export const initialAlertState: AlertState = { status: "ok" }

export interface StepResult {
  readonly state: AlertState
  readonly actions: ReadonlyArray<Action>
}

// Furthest from the expected value when known, else largest magnitude.
const peakOf = (peak: number, ev: Evaluation): number => {
  const ref = ev.expected ?? 0
  return Math.abs(ev.value - ref) > Math.abs(peak - ref) ? ev.value : peak
}

/**
 * Pure transition for one key. Cooldown and timestamps use `nowMs` (processing time).
 * An evaluation whose window is not after the last one seen is ignored, which makes
 * redelivered jobs idempotent. Each step emits at most one action.
 */
export const step = (config: PolicyConfig, state: AlertState, ev: Evaluation, nowMs: number): StepResult => {
  if (state.lastWindowStartMs !== undefined && ev.windowStartMs <= state.lastWindowStartMs) return { state, actions: [] }
  const lastWindowStartMs = ev.windowStartMs
  const severity = ev.severity
  if (state.status === "ok") {
    if (severity === "none") return { state: { status: "ok", lastWindowStartMs }, actions: [] }
    const opened: ActiveState = {
      status: "open",
      severity,
      lastSeverity: severity,
      openedAtMs: nowMs,
      lastNotifiedAtMs: nowMs,
      lastSeenAtMs: nowMs,
      lastWindowStartMs,
      occurrences: 1,
      normalStreak: 0,
      peakValue: ev.value
    }
    return { state: opened, actions: [{ _tag: "Open", severity }] }
  }
  if (severity === "none") {
    const normalStreak = state.normalStreak + 1
    if (normalStreak >= Math.max(1, config.resolveAfterWindows)) {
      return { state: { status: "ok", lastWindowStartMs }, actions: [{ _tag: "Resolve" }] }
    }
    return { state: { ...state, normalStreak, lastWindowStartMs }, actions: [] }
  }
  const seen: ActiveState = {
    ...state,
    lastSeverity: severity,
    lastSeenAtMs: nowMs,
    lastWindowStartMs,
    occurrences: state.occurrences + 1,
    normalStreak: 0,
    peakValue: peakOf(state.peakValue, ev)
  }
  if (severityRank(severity) > severityRank(state.severity)) {
    return {
      state: { ...seen, severity, lastNotifiedAtMs: nowMs },
      actions: [{ _tag: "Escalate", from: state.severity, to: severity }]
    }
  }
  if (state.status === "open" && config.renotify && nowMs - state.lastNotifiedAtMs >= config.cooldownMs) {
    return { state: { ...seen, lastNotifiedAtMs: nowMs }, actions: [{ _tag: "Renotify" }] }
  }
  return { state: seen, actions: [{ _tag: "Fold" }] }
}

/** Records the id assigned when the alert row was inserted. */
export const withAlertId = (state: AlertState, alertId: string): AlertState =>
  state.status === "ok" ? state : { ...state, alertId }
