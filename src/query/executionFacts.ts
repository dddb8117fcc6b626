import { Effect, Layer, Option } from "effect"
import { Db } from "../db/Db.ts"
import { ExecutionFacts } from "../executions/ExecutionFacts.ts"
import { getExecution, loadAnalysis } from "./ExecutionReader.ts"

/** ExecutionFacts from the execution reader: the analysis and the GenAI totals the query API shows. */
export const ExecutionFactsLive = Layer.effect(
  ExecutionFacts,
  Effect.map(Db, (db) => ({
    analysis: (tenantId: string, executionId: string) =>
      loadAnalysis(db, tenantId, executionId).pipe(Effect.map(Option.getOrNull), Effect.orElseSucceed(() => null)),
    genaiTotals: (tenantId: string, executionId: string) =>
      getExecution(db, tenantId, executionId).pipe(
        Effect.map(Option.match({ onNone: () => null, onSome: (v) => v.genai })),
        Effect.orElseSucceed(() => null)
      )
  }))
)
