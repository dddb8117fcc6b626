// The alerts page's logic: filters read from and written to the URL, which alerts a time range shows
// (those active at some point in it), grouping by state with counts by severity, and the windows the
// alert page draws and links to. Pure, so tests need no browser.

export const ALERT_STATES = ["open", "acknowledged", "resolved"] as const
export type AlertState = (typeof ALERT_STATES)[number]
export const SEVERITIES = ["critical", "warning"] as const
export type Severity = (typeof SEVERITIES)[number]

/** What the list needs of an alert (the API's AlertView has more). */
export interface AlertLike {
  readonly id: string
  readonly state: string
  readonly severity: string
  readonly type: string
  readonly serviceName: string | null
  readonly openedAt: string
  readonly lastSeenAt: string
  readonly resolvedAt: string | null
}

export interface AlertFilters {
  readonly states: ReadonlyArray<AlertState>
  readonly severities: ReadonlyArray<Severity>
  readonly type: string | null
  readonly service: string | null
}

/** With no `state` in the URL the page shows what needs attention: open and acknowledged. */
export const DEFAULT_STATES: ReadonlyArray<AlertState> = ["open", "acknowledged"]

const pick = <A extends string>(raw: string | null, allowed: ReadonlyArray<A>, fallback: ReadonlyArray<A>): ReadonlyArray<A> => {
  if (raw === null || raw.trim() === "") return fallback
  if (raw === "all") return allowed
  const wanted = new Set(raw.split(",").map((s) => s.trim()))
  const chosen = allowed.filter((a) => wanted.has(a))
  return chosen.length === 0 ? fallback : chosen
}

export const filtersFromParams = (params: URLSearchParams): AlertFilters => ({
  states: pick(params.get("state"), ALERT_STATES, DEFAULT_STATES),
  severities: pick(params.get("severity"), SEVERITIES, SEVERITIES),
  type: params.get("type") || null,
  service: params.get("service") || null
})

/** The URL parameters of `f`: defaults left out, so the plain /alerts stays plain. */
export const filtersToParams = (f: AlertFilters): Readonly<Record<string, string | null>> => {
  const same = (a: ReadonlyArray<string>, b: ReadonlyArray<string>) => a.length === b.length && a.every((x) => b.includes(x))
  return {
    state: same(f.states, DEFAULT_STATES) ? null : same(f.states, ALERT_STATES) ? "all" : f.states.join(","),
    severity: same(f.severities, SEVERITIES) ? null : f.severities.join(","),
    type: f.type,
    service: f.service
  }
}

/** The `state` the API is asked for: the server filters by state, the page by the rest. */
export const stateQuery = (f: AlertFilters): string => f.states.join(",")

/** Active at some point in [fromMs, toMs]: opened before the end, not resolved before the start. */
export const activeIn = (a: AlertLike, fromMs: number, toMs: number): boolean => {
  const opened = Date.parse(a.openedAt)
  const ended = a.resolvedAt === null ? Number.POSITIVE_INFINITY : Date.parse(a.resolvedAt)
  return opened <= toMs && ended >= fromMs
}

export const filterAlerts = <A extends AlertLike>(alerts: ReadonlyArray<A>, f: AlertFilters, range: { readonly fromMs: number; readonly toMs: number } | null): ReadonlyArray<A> =>
  alerts.filter(
    (a) =>
      (f.states as ReadonlyArray<string>).includes(a.state) &&
      (f.severities as ReadonlyArray<string>).includes(a.severity) &&
      (f.type === null || a.type === f.type) &&
      (f.service === null || a.serviceName === f.service) &&
      (range === null || activeIn(a, range.fromMs, range.toMs))
  )

export interface AlertGroup<A> {
  readonly state: AlertState
  readonly alerts: ReadonlyArray<A>
  readonly critical: number
  readonly warning: number
}

const severityRank = (s: string) => (s === "critical" ? 0 : s === "warning" ? 1 : 2)

/** One group per state in `states` (empty ones included), critical first, then the most recently seen. */
export const groupAlerts = <A extends AlertLike>(alerts: ReadonlyArray<A>, states: ReadonlyArray<AlertState> = ALERT_STATES): ReadonlyArray<AlertGroup<A>> =>
  ALERT_STATES.filter((s) => states.includes(s)).map((state) => {
    const list = alerts
      .filter((a) => a.state === state)
      .sort((a, b) => severityRank(a.severity) - severityRank(b.severity) || Date.parse(b.lastSeenAt) - Date.parse(a.lastSeenAt) || a.id.localeCompare(b.id))
    return { state, alerts: list, critical: list.filter((a) => a.severity === "critical").length, warning: list.filter((a) => a.severity === "warning").length }
  })

/** Distinct values of a field, for the filter menus. */
export const distinct = <A>(alerts: ReadonlyArray<A>, f: (a: A) => string | null): ReadonlyArray<string> =>
  [...new Set(alerts.map(f).filter((x): x is string => x !== null && x !== ""))].sort()

const EVENT_LABELS: Readonly<Record<string, string>> = {
  anomaly_detected: "Anomaly",
  threshold_exceeded: "Threshold exceeded",
  alert_resolved: "Resolved",
  execution_timeout: "Execution timed out",
  budget_exceeded: "Budget exceeded",
  agent_loop_suspected: "Agent loop suspected",
  test: "Test"
}

/** A person's words for an alert event type; unknown types as they are, underscores spaced. */
export const eventTypeLabel = (type: string): string => EVENT_LABELS[type] ?? type.replace(/_/g, " ")

const MIN = 60_000

/** Where the alert's executions are: from a few minutes before it opened to a little after it ended (or now). */
export const executionsWindow = (a: AlertLike, now: number): { readonly from: string; readonly to: string } => {
  const opened = Date.parse(a.openedAt)
  const end = a.resolvedAt === null ? Math.max(Date.parse(a.lastSeenAt), now) : Date.parse(a.resolvedAt)
  return { from: new Date(opened - 5 * MIN).toISOString(), to: new Date(Math.min(end + 5 * MIN, Math.max(now, opened + MIN))).toISOString() }
}

export const CONTEXT_CHOICES = [
  { value: "15m", label: "±15 min", ms: 15 * MIN },
  { value: "1h", label: "±1 h", ms: 60 * MIN },
  { value: "6h", label: "±6 h", ms: 360 * MIN },
  { value: "24h", label: "±24 h", ms: 1440 * MIN }
] as const

/** The range of the alert's chart: `contextMs` either side of its life, never past now. */
export const chartWindow = (a: AlertLike, contextMs: number, now: number): { readonly fromMs: number; readonly toMs: number } => {
  const opened = Date.parse(a.openedAt)
  const end = a.resolvedAt === null ? now : Date.parse(a.resolvedAt)
  return { fromMs: opened - contextMs, toMs: Math.min(now, Math.max(end, Date.parse(a.lastSeenAt)) + contextMs) }
}

/** The detector's cap on |z| (Z_CAP in src/detection/ewma.ts): a series flat before the window reaches it. */
export const Z_CAP = 1e6

/** z as a reader takes it: the cap said as what it means rather than as a million. */
export const formatZ = (z: number | null, decimal: (n: number) => string): string =>
  z === null ? "–" : Math.abs(z) >= Z_CAP ? `${z < 0 ? "≤ −10⁶" : "≥ 10⁶"} (flat before)` : decimal(z)
