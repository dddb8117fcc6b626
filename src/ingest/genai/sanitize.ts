import type { SpanRow } from "../otlp/normalize.ts"
import { isContentKey, KNOWN_OPERATION_NAMES, TOKEN_KEYS, tokenValue } from "./recognize.ts"

// At the door, before a batch is queued: message contents dropped unless the tenant keeps them, token
// counts that are not counts removed. Both only counted and described (never the content itself), so
// the OTLP answer can say what was ignored while the spans themselves are stored.

export interface SanitizeResult {
  readonly spans: Array<SpanRow>
  /** Content attributes removed (settings.genai.storeContent is off). */
  readonly contentDropped: number
  /** Token attributes removed (not a count of 0 to 1e9). */
  readonly tokensDropped: number
  /** Token attributes removed, unknown operations: one message each (at most a few kept). */
  readonly warnings: Array<string>
  readonly warningCount: number
}

const MAX_WARNINGS = 10
const show = (s: string) => JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s)

/** Whether `k` may be a token key (src/ingest/genai/recognize.ts TOKEN_KEYS: gen_ai.usage.*, llm.token_count.*): a first letter, then the set. */
const mayBeTokenKey = (k: string): boolean => {
  const c = k.charCodeAt(0)
  return (c === 103 /* g */ || c === 108 /* l */) && TOKEN_KEYS.has(k)
}

type OnToken = (key: string, problem: string) => void

const clean = (attrs: Record<string, unknown>, storeContent: boolean, onContent: () => void, onToken: OnToken): Record<string, unknown> | undefined => {
  let out: Record<string, unknown> | undefined
  for (const k in attrs) {
    let drop = false
    if (!storeContent && isContentKey(k)) {
      drop = true
      onContent()
    } else if (mayBeTokenKey(k)) {
      const v = tokenValue(attrs[k])
      if (typeof v === "string") {
        drop = true
        onToken(k, v)
      }
    }
    if (drop) {
      out ??= { ...attrs }
      delete out[k]
    }
  }
  return out
}

const NO_TOKEN_WARNING: OnToken = () => {}

export const sanitizeGenai = (spans: ReadonlyArray<SpanRow>, storeContent: boolean): SanitizeResult => {
  let contentDropped = 0
  let tokensDropped = 0
  let warningCount = 0
  const warnings: Array<string> = []
  const warn = (m: string) => {
    warningCount++
    if (warnings.length < MAX_WARNINGS) warnings.push(m)
  }
  const onContent = () => void contentDropped++
  // The span being cleaned, named only in a warning (most spans have none; each name is two JSON.stringify).
  // One callback for the batch: a pair of closures made per span showed in profiles.
  let current: SpanRow | undefined
  const where = () => `span ${show(current!.spanId)} of trace ${show(current!.traceId)}`
  const onToken: OnToken = (key, problem) => {
    tokensDropped++
    warn(`${where()}: attribute ${key} ignored: ${problem}`)
  }
  const out = spans.map((s) => {
    current = s
    const op = s.attributes["gen_ai.operation.name"]
    if (op !== undefined && (typeof op !== "string" || !KNOWN_OPERATION_NAMES.has(op))) {
      warn(`${where()}: gen_ai.operation.name ${show(String(op))} is not a known operation (${[...KNOWN_OPERATION_NAMES].join(", ")}); the span is kept, its operation unknown`)
    }
    const attributes = clean(s.attributes, storeContent, onContent, onToken)
    let events = s.events
    if (!storeContent) {
      for (let i = 0; i < s.events.length; i++) {
        const e = s.events[i]!
        const a = clean(e.attributes, false, onContent, NO_TOKEN_WARNING)
        if (a !== undefined) {
          if (events === s.events) events = [...s.events]
          events[i] = { ...e, attributes: a }
        }
      }
    }
    return attributes === undefined && events === s.events ? s : { ...s, attributes: attributes ?? s.attributes, events }
  })
  return { spans: out, contentDropped, tokensDropped, warnings, warningCount }
}

/** The partialSuccess message parts for what sanitizing did. */
export const sanitizeMessages = (r: SanitizeResult): Array<string> => [
  ...(r.contentDropped > 0 ? [`${r.contentDropped} GenAI message content attribute(s) dropped (settings.genai.storeContent is false)`] : []),
  ...r.warnings,
  ...(r.warningCount > r.warnings.length ? [`${r.warningCount - r.warnings.length} more GenAI attribute warning(s)`] : [])
]
