import { Context, Effect, Layer, Ref } from "effect"
import { Db } from "../db/Db.ts"
import { AlertJob } from "../domain/pipeline.ts"
import { insertExecutionSpan } from "../ingest/executionSpan.ts"
import { makeProducer } from "../queues/Queues.ts"
import { markTimedOut } from "./executionRows.ts"
import { LiveFeed } from "./LiveFeed.ts"

// What timing an execution out does beyond the supervisor's bookkeeping: the row, its span, the
// execution_timeout alert and the live view's notice. A Test twin records the time-outs.

const makeLive = Effect.gen(function* () {
  const db = yield* Db
  const live = yield* LiveFeed
  const alerts = yield* makeProducer("alert", AlertJob)

  /**
   * Marks the execution timed out (if still open) and raises its execution_timeout alert. One already
   * timed out raises it again: its claimer may have died between the UPDATE and the alert, and the
   * alert is keyed by execution (the alert stage stores it once), so a repeat changes nothing.
   * `executionId` is the id the registry and heap know the execution by (see IngestStage's hand-off).
   */
  const timeOut = (tenantId: string, executionId: string) =>
    Effect.gen(function* () {
      const row = yield* markTimedOut(db, tenantId, executionId)
      if (row === undefined) return
      // Like the alert, the span is keyed: a repeated time-out writes it once.
      yield* insertExecutionSpan(db, tenantId, executionId)
      const payload = {
        executionId, traceId: executionId.slice(0, 32), serviceName: row.service_name, operationName: row.operation_name,
        startTime: new Date(row.start_time).toISOString()
      }
      yield* alerts.add("event", { _tag: "event", tenantId, eventType: "execution_timeout", key: executionId, payload }, { jobId: `${tenantId}.timeout-${executionId}` })
      const at = new Date().toISOString()
      yield* live.publish(tenantId, {
        kind: "timeout",
        execution: {
          executionId, traceId: payload.traceId, serviceName: row.service_name, operationName: row.operation_name, status: "timed_out",
          progressPercentage: null, currentOperation: null, metrics: {}, lastEvents: [], startTime: payload.startTime, updatedAt: at
        }
      }).pipe(Effect.catchAll((e) => Effect.logWarning(`live view: time-out of ${executionId} not published: ${e.message}`)))
      yield* Effect.logInfo(`execution ${executionId} timed out`)
    })
  return { timeOut }
})

/** The Test twin's record: `tenantId/executionId` of every time-out, in order (repeats included). */
export class TimedOut extends Context.Tag("executions/TimedOut")<TimedOut, Ref.Ref<ReadonlyArray<string>>>() {}

export class ExecutionTimeOuts extends Context.Tag("executions/ExecutionTimeOuts")<ExecutionTimeOuts, {
  readonly timeOut: (tenantId: string, executionId: string) => Effect.Effect<void, unknown>
}>() {
  static readonly Live = Layer.scoped(ExecutionTimeOuts, makeLive).pipe(Layer.provide(LiveFeed.Live))
  static readonly Test = Layer.effectContext(Effect.map(Ref.make<ReadonlyArray<string>>([]), (ref) =>
    Context.make(TimedOut, ref).pipe(Context.add(ExecutionTimeOuts, {
      timeOut: (tenantId: string, executionId: string) => Ref.update(ref, (xs) => [...xs, `${tenantId}/${executionId}`])
    }))))
}
