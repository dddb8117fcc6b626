// The settings form's logic: reading and writing a field of the settings document by its path, the
// form's common fields, and where each of the server's 400 issues goes. The server validates with
// the same Schema as every other settings write (src/domain/settings.ts): the console does not
// second-guess it, it puts each message next to the field it names.

export type Path = ReadonlyArray<string>
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [k: string]: Json }

export interface Issue {
  readonly path: string
  readonly message: string
}

const isObject = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** The field's id in the form and in the server's issues: its keys joined by dots. */
export const pathId = (path: Path): string => path.join(".")

export const getAt = (doc: unknown, path: Path): unknown => {
  let at: unknown = doc
  for (const k of path) {
    if (Array.isArray(at)) at = at[Number(k)]
    else if (isObject(at)) at = at[k]
    else return undefined
  }
  return at
}

/** A copy of `doc` with the value at `path` replaced (objects created on the way); undefined removes it. */
export const setAt = (doc: unknown, path: Path, value: unknown): unknown => {
  if (path.length === 0) return value
  const [head, ...rest] = path as [string, ...Array<string>]
  if (Array.isArray(doc)) {
    const copy = [...(doc as Array<unknown>)]
    copy[Number(head)] = setAt(copy[Number(head)], rest, value)
    return copy
  }
  const base = isObject(doc) ? doc : {}
  const next = setAt(base[head], rest, value)
  const { [head]: _old, ...others } = base
  return next === undefined ? others : { ...others, [head]: next }
}

/** What a person typed into a number field: a number when it is one, else the text (the server names the error). */
export const parseNumberInput = (text: string): number | string | undefined => {
  const t = text.trim()
  if (t === "") return undefined
  const n = Number(t)
  return Number.isFinite(n) && /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t) ? n : t
}

export const showValue = (v: unknown): string => (v === undefined || v === null ? "" : typeof v === "string" ? v : JSON.stringify(v))

export interface FieldSpec {
  readonly path: Path
  readonly label: string
  readonly kind: "number" | "boolean"
  readonly unit?: string
  readonly hint: string
}

export interface Section {
  readonly title: string
  readonly fields: ReadonlyArray<FieldSpec>
}

/** The fields an operator changes most; everything else through the JSON editor. */
export const COMMON_SECTIONS: ReadonlyArray<Section> = [
  {
    title: "Windows",
    fields: [
      { path: ["windows", "sizeSeconds"], label: "Window size", kind: "number", unit: "s", hint: "1–3600: the detector sees one value per window" },
      { path: ["windows", "allowedLatenessSeconds"], label: "Allowed lateness", kind: "number", unit: "s", hint: "0–3600: how long a window waits for late points" },
      { path: ["windows", "idleTimeoutSeconds"], label: "Idle timeout", kind: "number", unit: "s", hint: "1–86400: closes a window when its series goes quiet" }
    ]
  },
  {
    title: "Detector",
    fields: [
      { path: ["detector", "enabled"], label: "Anomaly detection on", kind: "boolean", hint: "EWMA and z-score per series" },
      { path: ["detector", "alpha"], label: "EWMA alpha", kind: "number", hint: "(0, 1]: higher follows changes faster" },
      { path: ["detector", "warmupWindows"], label: "Warm-up", kind: "number", unit: "windows", hint: "windows learnt before the first anomaly" },
      { path: ["detector", "zWarning"], label: "Warning at z", kind: "number", unit: "σ", hint: "> 0: standard deviations from the expected level" },
      { path: ["detector", "zCritical"], label: "Critical at z", kind: "number", unit: "σ", hint: "≥ the warning z" }
    ]
  },
  {
    title: "Alerting",
    fields: [
      { path: ["alerting", "cooldownSeconds"], label: "Cool-down", kind: "number", unit: "s", hint: "0–86400: between two notifications of an alert" },
      { path: ["alerting", "resolveAfterWindows"], label: "Resolve after", kind: "number", unit: "windows", hint: "quiet windows before an alert resolves" },
      { path: ["traceTimeoutSeconds"], label: "Execution time-out", kind: "number", unit: "s", hint: "an execution still running after this times out" }
    ]
  },
  {
    title: "Quotas",
    fields: [
      { path: ["quotas", "requestsPerSecond"], label: "Requests", kind: "number", unit: "req/s", hint: "per tenant, over it: 429" },
      { path: ["quotas", "pointsPerSecond"], label: "Data points", kind: "number", unit: "points/s", hint: "spans and metric points" },
      { path: ["quotas", "bytesPerSecond"], label: "Bytes", kind: "number", unit: "bytes/s", hint: "request bodies as received, over it: 429" },
      { path: ["limits", "maxActiveSeries"], label: "Active series", kind: "number", unit: "series", hint: "points of new series over it are refused" },
      { path: ["limits", "maxBacklogPoints"], label: "Backlog share", kind: "number", unit: "points", hint: "accepted, not yet stored; over it: 429" },
      { path: ["limits", "maxBacklogBytes"], label: "Backlog share (bytes)", kind: "number", unit: "bytes", hint: "the same in request bytes" }
    ]
  }
]

export const THRESHOLD_FIELDS = ["warning", "critical", "direction"] as const
export const CHANNEL_FIELDS = ["id", "type", "url", "secret", "events", "enabled"] as const

/** Every field id the form shows for `doc`: the common ones, each threshold's and each channel's, and their groups. */
export const formFields = (doc: unknown): ReadonlyArray<string> => {
  const ids = COMMON_SECTIONS.flatMap((s) => s.fields.map((f) => pathId(f.path)))
  const thresholds = getAt(doc, ["thresholds"])
  ids.push("thresholds")
  if (isObject(thresholds)) for (const name of Object.keys(thresholds)) ids.push(`thresholds.${name}`, ...THRESHOLD_FIELDS.map((f) => `thresholds.${name}.${f}`))
  const channels = getAt(doc, ["channels"])
  ids.push("channels")
  if (Array.isArray(channels)) channels.forEach((_, i) => ids.push(`channels.${i}`, ...CHANNEL_FIELDS.map((f) => `channels.${i}.${f}`)))
  return ids
}

/** A union's other branches say "Expected undefined" (or repeat a message): noise next to the real one. */
const useful = (issues: ReadonlyArray<Issue>): ReadonlyArray<Issue> => {
  const seen = new Set<string>()
  return issues.filter((i) => {
    const k = `${i.path}\u0000${i.message}`
    if (seen.has(k)) return false
    seen.add(k)
    return !(/^Expected undefined, actual/.test(i.message) && issues.some((o) => o.path === i.path && o !== i && !/^Expected undefined/.test(o.message)))
  })
}

export interface PlacedIssues {
  /** Messages by field id, for the fields `fields` lists. */
  readonly byField: ReadonlyMap<string, ReadonlyArray<string>>
  /** Issues no field of the form shows (e.g. an unknown top-level key): listed above the form. */
  readonly unplaced: ReadonlyArray<Issue>
}

/**
 * Each issue at its field: the field with its exact path; for a check across fields (reported at their
 * parent, e.g. `detector` for "detector.zCritical must be >= detector.zWarning") the field the message
 * names; otherwise the closest enclosing field or group the form shows.
 */
export const placeIssues = (issues: ReadonlyArray<Issue>, fields: ReadonlyArray<string>): PlacedIssues => {
  const known = new Set(fields)
  const byField = new Map<string, Array<string>>()
  const unplaced: Array<Issue> = []
  const add = (field: string, message: string) => byField.set(field, [...(byField.get(field) ?? []), message])
  for (const issue of useful(issues)) {
    if (known.has(issue.path)) {
      add(issue.path, issue.message)
      continue
    }
    const named = fields
      .filter((f) => (issue.path === "" || f.startsWith(`${issue.path}.`)) && new RegExp(`(^|[^\\w.])${f.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}($|[^\\w.])`).test(issue.message))
      .sort((a, b) => issue.message.indexOf(a) - issue.message.indexOf(b))[0]
    if (named !== undefined) {
      add(named, issue.message)
      continue
    }
    const enclosing = fields.filter((f) => issue.path.startsWith(`${f}.`)).sort((a, b) => b.length - a.length)[0]
    if (enclosing !== undefined) add(enclosing, issue.path === enclosing ? issue.message : `${issue.path.slice(enclosing.length + 1)}: ${issue.message}`)
    else unplaced.push(issue)
  }
  return { byField, unplaced }
}

/** The JSON editor's text as a document, or the parser's message (shown before anything is sent). */
export const parseJsonDoc = (text: string): { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string } => {
  try {
    return { ok: true, value: JSON.parse(text) as unknown }
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) }
  }
}
