// The GenAI client metrics of the OpenTelemetry conventions on /v1/metrics: gen_ai.client.token.usage
// (a histogram by gen_ai.token.type) and gen_ai.client.operation.duration (seconds). Their rows (the
// histogram's .count/.sum/.min/.max, see normalizeMetrics) get normalised attributes — genai.model,
// genai.operation, genai.provider, genai.tokenType — and their windows and detection run per model
// (operation "model=<model>"), like the span-derived genai.model.* series.

const PREFIXES = ["gen_ai.client.token.usage", "gen_ai.client.operation.duration", "gen_ai.server.time_to_first_token", "gen_ai.server.request.duration"]

export const isGenaiMetric = (name: string): boolean => name.startsWith("gen_ai.") && PREFIXES.some((p) => name.startsWith(p))

const str = (a: Readonly<Record<string, unknown>>, ...keys: ReadonlyArray<string>): string | undefined => {
  for (const k of keys) {
    const v = a[k]
    if (typeof v === "string" && v !== "") return v
  }
  return undefined
}

/** The row's attributes with the normalised GenAI ones (unchanged for another metric). */
export const genaiMetricAttributes = (name: string, a: Record<string, unknown>): Record<string, unknown> => {
  if (!isGenaiMetric(name)) return a
  const model = str(a, "gen_ai.response.model", "gen_ai.request.model")
  const operation = str(a, "gen_ai.operation.name")
  const provider = str(a, "gen_ai.provider.name", "gen_ai.system")
  const tokenType = str(a, "gen_ai.token.type")
  return {
    ...a,
    ...(model === undefined ? {} : { "genai.model": model }),
    ...(operation === undefined ? {} : { "genai.operation": operation }),
    ...(provider === undefined ? {} : { "genai.provider": provider }),
    ...(tokenType === undefined ? {} : { "genai.tokenType": tokenType })
  }
}

/** The series operation of a metric row: `model=<model>[ <tokenType>]` for a GenAI metric with a model, else "". */
export const genaiMetricOperation = (a: Readonly<Record<string, unknown>>): string => {
  const model = a["genai.model"]
  if (typeof model !== "string") return ""
  const type = a["genai.tokenType"]
  return typeof type === "string" ? `model=${model} ${type}` : `model=${model}`
}
