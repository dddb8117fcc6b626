import { Effect } from "effect"
import type { Queryable } from "../db/Db.ts"
import { executionById } from "../db/executionByTrace.ts"

// The execution lifecycle's SQL (the tenant supervisor is its wiring and timers).

/**
 * Marks a native execution timed out if it is still open, and answers what its time-out alert says
 * about it; an execution already timed out answers the same (its claimer may have died between this
 * statement and the alert, and the alert is keyed by execution, so raising it again changes nothing).
 * Undefined when there is no such native execution, or it ended otherwise.
 */
export const markTimedOut = (q: Queryable, tenantId: string, executionId: string) =>
  Effect.map(
    q.query<{ service_name: string; operation_name: string; start_time: Date }>(
      `WITH u AS (
       UPDATE executions SET status = 'timed_out', end_time = now(), duration_ms = extract(epoch FROM (now() - start_time)) * 1000,
              updated_at = now(), current_operation = NULL
       WHERE ${executionById()} AND source = 'api' AND status IN ('active', 'paused')
       RETURNING service_name, operation_name, start_time)
     SELECT * FROM u
     UNION ALL
     SELECT service_name, operation_name, start_time FROM executions
     WHERE ${executionById()} AND source = 'api' AND status = 'timed_out' AND NOT EXISTS (SELECT 1 FROM u)`,
      [tenantId, executionId]
    ),
    (rows) => rows[0]
  )
