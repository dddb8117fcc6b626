import type { WindowPointView } from "../../../src/domain/consoleViews.ts"

// The detector's expected band for one series: EWMA ± zWarning · sd before each window, the value the
// detector observed (the window's mean), and the windows it flagged. Columns of equal length on a
// shared x (seconds, as uPlot wants), nulls where the detector had no opinion yet (warming up).

export type Window = typeof WindowPointView.Type

export interface Band {
  readonly x: ReadonlyArray<number>
  readonly observed: ReadonlyArray<number | null>
  readonly expected: ReadonlyArray<number | null>
  readonly lower: ReadonlyArray<number | null>
  readonly upper: ReadonlyArray<number | null>
  /** The observed value at windows the detector flagged, null elsewhere (drawn as markers). */
  readonly warning: ReadonlyArray<number | null>
  readonly critical: ReadonlyArray<number | null>
  readonly anomalies: number
}

export const computeBand = (windows: ReadonlyArray<Window>, zWarning: number): Band => {
  const sorted = [...windows].sort((a, b) => Date.parse(a.start) - Date.parse(b.start))
  const x: Array<number> = []
  const observed: Array<number | null> = []
  const expected: Array<number | null> = []
  const lower: Array<number | null> = []
  const upper: Array<number | null> = []
  const warning: Array<number | null> = []
  const critical: Array<number | null> = []
  let anomalies = 0
  for (const w of sorted) {
    x.push(Date.parse(w.start) / 1000)
    observed.push(w.mean)
    const has = w.expected !== null && w.sd !== null && Number.isFinite(w.expected) && Number.isFinite(w.sd)
    expected.push(has ? w.expected : null)
    lower.push(has ? w.expected! - zWarning * w.sd! : null)
    upper.push(has ? w.expected! + zWarning * w.sd! : null)
    warning.push(w.severity === "warning" ? w.mean : null)
    critical.push(w.severity === "critical" ? w.mean : null)
    if (w.severity !== null) anomalies++
  }
  return { x, observed, expected, lower, upper, warning, critical, anomalies }
}
