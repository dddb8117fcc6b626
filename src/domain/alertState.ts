// The state of one alert rule of one series, kept by the alert policy (src/alerting/policy.ts) and
// changed by an acknowledgement through the API (src/query/alerts.ts).

export type AlertSeverity = "warning" | "critical"

export interface OkState {
  readonly status: "ok"
  readonly lastWindowStartMs?: number
}

export interface ActiveState {
  readonly status: "open" | "acknowledged"
  readonly alertId?: string
  /** Highest severity reached; it never drops while the alert is active, so flapping cannot re-escalate. */
  readonly severity: AlertSeverity
  readonly lastSeverity: AlertSeverity
  readonly openedAtMs: number
  readonly lastNotifiedAtMs: number
  readonly lastSeenAtMs: number
  readonly lastWindowStartMs: number
  readonly occurrences: number
  readonly normalStreak: number
  readonly peakValue: number
}

export type AlertState = OkState | ActiveState

/** Stops reminders; escalation and resolution still notify. */
export const acknowledge = (state: AlertState): AlertState =>
  state.status === "open" ? { ...state, status: "acknowledged" } : state

export const isAlertState = (u: unknown): u is AlertState =>
  typeof u === "object" && u !== null && "status" in u && (u.status === "ok" || u.status === "open" || u.status === "acknowledged")
