import type { SpanRow } from "../domain/jobs.ts"
import type { GenaiRecord } from "../ingest/genai/recognize.ts"
import { collectPoints } from "./partials.ts"
import type { PointSink, SeriesPoint } from "./partials.ts"
import { once } from "../ingest/pgArrays.ts"

// Series derived from GenAI spans, through the same windows, EWMA/z-score detector and thresholds as
// every other series. One point per call, so a window's count is the calls, its mean the per-call
// level, its sum the window's total:
//   genai.model.latencyMs / errorRate / tokens / costUsd    (operation "model=<model>")
//   genai.agent.latencyMs / errorRate                       (agent invocations, operation "agent=<agent>")
//   genai.agent.tokens / costUsd                            (the agent's model calls)
//   genai.tool.latencyMs / errorRate                        (operation "tool=<tool>")
// The series are tenant-wide (service ""): a model is one model whichever service calls it. Thresholds
// apply by metric name (settings.thresholds["genai.model.latencyMs"]).

/**
 * `prefix + name`, one string per name of a batch: a batch has few models, agents and tools and many
 * spans, and the fold finds a series by its operation (a Map lookup), which hashes a new string once
 * and the same string object never again.
 */
const operations = (prefix: string) => once((name: string) => prefix + name)

export const genaiSeriesPoints = (spans: ReadonlyArray<SpanRow>, genai: ReadonlyArray<GenaiRecord | undefined> | undefined): Array<SeriesPoint> => {
  const c = collectPoints()
  genaiSeriesInto(c.sink, spans, genai)
  return c.points
}

/** genaiSeriesPoints, into a sink (the ingest stage's fold: no point object per point). */
export const genaiSeriesInto = (add: PointSink, spans: ReadonlyArray<SpanRow>, genai: ReadonlyArray<GenaiRecord | undefined> | undefined): void => {
  if (genai === undefined) return
  const modelOp = operations("model=")
  const agentOp = operations("agent=")
  const toolOp = operations("tool=")
  for (let i = 0; i < spans.length; i++) {
    const g = genai[i]
    if (g === undefined) continue
    const s = spans[i]!
    const t = s.startTimeMs
    const err = g.error ? 1 : 0
    const tokens = (g.inputTokens ?? 0) + (g.outputTokens ?? 0) + (g.cacheReadTokens ?? 0) + (g.cacheWriteTokens ?? 0)
    if (g.kind === "model" && g.model !== null) {
      const op = modelOp(g.model)
      add("genai.model.latencyMs", "", op, t, s.durationMs)
      add("genai.model.errorRate", "", op, t, err)
      add("genai.model.tokens", "", op, t, tokens)
      if (g.costUsd !== null) add("genai.model.costUsd", "", op, t, g.costUsd)
      if (g.agentName !== null) {
        const agent = agentOp(g.agentName)
        add("genai.agent.tokens", "", agent, t, tokens)
        if (g.costUsd !== null) add("genai.agent.costUsd", "", agent, t, g.costUsd)
      }
    } else if (g.kind === "tool" && g.toolName !== null) {
      const tool = toolOp(g.toolName)
      add("genai.tool.latencyMs", "", tool, t, s.durationMs)
      add("genai.tool.errorRate", "", tool, t, err)
    } else if (g.kind === "agent" && g.agentName !== null) {
      const agent = agentOp(g.agentName)
      add("genai.agent.latencyMs", "", agent, t, s.durationMs)
      add("genai.agent.errorRate", "", agent, t, err)
    }
  }
}
