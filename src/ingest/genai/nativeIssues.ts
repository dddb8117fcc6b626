import type { Issue } from "../../domain/issues.ts"
import { isGenaiMetric } from "./metrics.ts"
import { KNOWN_OPERATION_NAMES, OPERATIONS, TOKEN_KEYS, tokenValue } from "./recognize.ts"

// The native API refuses what OTLP would only ignore: a GenAI token count that is not a count, or an
// unknown gen_ai.operation.name, in an execution's tags (they become its span's attributes), and a
// negative or absurd value of the gen_ai.client.token.usage metric. A 400 naming the field.

/** Issues of one attribute map (tags), paths `<prefix>.<key>`. */
export const genaiAttributeIssues = (attrs: unknown, prefix: string): Array<Issue> => {
  if (typeof attrs !== "object" || attrs === null || Array.isArray(attrs)) return []
  const out: Array<Issue> = []
  for (const [k, v] of Object.entries(attrs as Record<string, unknown>)) {
    if (TOKEN_KEYS.has(k)) {
      const t = tokenValue(v)
      if (typeof t === "string") out.push({ path: `${prefix}.${k}`, message: t })
    } else if (k === "gen_ai.operation.name" && (typeof v !== "string" || !KNOWN_OPERATION_NAMES.has(v))) {
      out.push({ path: `${prefix}.${k}`, message: `is not a known operation (${OPERATIONS.join(", ")})` })
    }
  }
  return out
}

/** Issues of native metric points: a GenAI token metric's value must be a count of at most 1e9. */
export const genaiPointIssues = (points: ReadonlyArray<{ readonly name: string; readonly value: number }>): Array<Issue> =>
  points.flatMap((p, i) => {
    if (!isGenaiMetric(p.name) || !p.name.startsWith("gen_ai.client.token.usage")) return []
    const t = tokenValue(p.value)
    return typeof t === "string" ? [{ path: `points.${i}.value`, message: `${p.name} ${t}` }] : []
  }).slice(0, 20)
