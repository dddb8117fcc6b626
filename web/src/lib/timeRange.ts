// Time ranges as Grafana writes them: relative (`now-1h` … `now`) or absolute (ISO-8601 or epoch ms).
// The strings travel unchanged in the console's URL and to the API, which parses the same forms; the
// console resolves them only to draw axes and label the picker.

export interface TimeRange {
  readonly from: string
  readonly to: string
}

export const DEFAULT_RANGE: TimeRange = { from: "now-1h", to: "now" }

const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }
const UNIT_NAME: Readonly<Record<string, string>> = { s: "second", m: "minute", h: "hour", d: "day", w: "week" }
const RELATIVE = /^now(?:-(\d+)([smhdw]))?$/

export const PRESETS: ReadonlyArray<TimeRange> = ["5m", "15m", "30m", "1h", "3h", "6h", "12h", "24h", "2d", "7d"].map((d) => ({ from: `now-${d}`, to: "now" }))

/** Epoch ms of a time expression at `now`, or null when it is not one. */
export const parseTime = (s: string, now: number): number | null => {
  const t = s.trim()
  const rel = RELATIVE.exec(t)
  if (rel !== null) return rel[1] === undefined ? now : now - Number(rel[1]) * UNIT_MS[rel[2]!]!
  if (/^\d{10,16}$/.test(t)) return Number(t)
  if (!/^\d{4}-\d{2}-\d{2}/.test(t)) return null
  const ms = Date.parse(t)
  return Number.isNaN(ms) ? null : ms
}

export const isRelative = (r: TimeRange) => RELATIVE.test(r.from.trim()) && RELATIVE.test(r.to.trim())

export interface ResolvedRange {
  readonly fromMs: number
  readonly toMs: number
}

/** A range that parses and runs forwards, or an error to show next to the picker. */
export const resolveRange = (r: TimeRange, now: number): ResolvedRange | { readonly error: string } => {
  const fromMs = parseTime(r.from, now)
  const toMs = parseTime(r.to, now)
  if (fromMs === null) return { error: `"${r.from}" is not a time: use now-1h, an ISO-8601 time or epoch milliseconds` }
  if (toMs === null) return { error: `"${r.to}" is not a time: use now, an ISO-8601 time or epoch milliseconds` }
  if (fromMs >= toMs) return { error: "the range must start before it ends" }
  return { fromMs, toMs }
}

/** "Last 15 minutes" for a relative range ending now; otherwise null (the caller shows both ends). */
export const relativeLabel = (r: TimeRange): string | null => {
  const m = RELATIVE.exec(r.from.trim())
  if (m === null || r.to.trim() !== "now") return null
  if (m[1] === undefined) return "Now"
  const n = Number(m[1])
  return `Last ${n === 1 ? "" : `${n} `}${UNIT_NAME[m[2]!]}${n === 1 ? "" : "s"}`
}

/** The range read from a URL's query string, the default for what is missing. */
export const rangeFromSearch = (params: URLSearchParams): TimeRange => ({
  from: params.get("from") ?? DEFAULT_RANGE.from,
  to: params.get("to") ?? DEFAULT_RANGE.to
})

/** The same length of time, moved back or forward by its own width (absolute from then on). */
export const shiftRange = (r: ResolvedRange, direction: -1 | 1): TimeRange => {
  const w = r.toMs - r.fromMs
  return { from: new Date(r.fromMs + direction * w).toISOString(), to: new Date(r.toMs + direction * w).toISOString() }
}

/** Twice as wide around the same middle. */
export const zoomOut = (r: ResolvedRange): TimeRange => {
  const w = r.toMs - r.fromMs
  return { from: new Date(r.fromMs - w / 2).toISOString(), to: new Date(r.toMs + w / 2).toISOString() }
}

/** The <input type="datetime-local"> value of an instant in a time zone `offsetMinutes` east of UTC. */
export const toLocalInput = (ms: number, offsetMinutes: number): string => new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, 19)

/** The instant of a datetime-local value (`YYYY-MM-DDTHH:mm[:ss]`) read in a zone `offsetMinutes` east of UTC. */
export const fromLocalInput = (value: string, offsetMinutes: number): number | null => {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) return null
  const ms = Date.parse(`${value.length === 16 ? `${value}:00` : value}Z`)
  return Number.isNaN(ms) ? null : ms - offsetMinutes * 60_000
}

/**
 * What a person typed into the picker, as the URL and the API take it: relative expressions and
 * epoch ms unchanged, `YYYY-MM-DD HH:mm[:ss]` read in their zone (`offsetMinutes` east of UTC), an
 * ISO time with its own zone as it is. Null when it is none of these.
 */
export const normaliseInput = (text: string, offsetMinutes: number): string | null => {
  const t = text.trim()
  if (RELATIVE.test(t) || /^\d{10,16}$/.test(t)) return t
  const local = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2})?)$/.exec(t)
  if (local !== null) {
    const ms = fromLocalInput(`${local[1]}T${local[2]}`, offsetMinutes)
    return ms === null ? null : new Date(ms).toISOString()
  }
  if (/^\d{4}-\d{2}-\d{2}$/.test(t)) {
    const ms = fromLocalInput(`${t}T00:00`, offsetMinutes)
    return ms === null ? null : new Date(ms).toISOString()
  }
  return parseTime(t, 0) === null ? null : t
}
