import { Context } from "effect"
import type { Effect } from "effect"
import type { GenaiTotalsView } from "../domain/genaiViews.ts"
import type { PerformanceAnalysisView } from "../domain/queryViews.ts"

/**
 * What the execution_completed notification says about a finished execution: its performance analysis
 * and its GenAI totals. The alert stage asks this service, wired by src/App.ts, instead of importing
 * the query modules (src/alerting and src/query do not import each other); src/query/executionFacts.ts
 * answers it. A read that fails is "nothing to say": the notification goes out without it.
 */
export class ExecutionFacts extends Context.Tag("executions/ExecutionFacts")<ExecutionFacts, {
  readonly analysis: (tenantId: string, executionId: string) => Effect.Effect<typeof PerformanceAnalysisView.Type | null>
  readonly genaiTotals: (tenantId: string, executionId: string) => Effect.Effect<GenaiTotalsView | null>
}>() {}
