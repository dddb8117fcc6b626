/**
 * The WHERE conditions that find a tenant's native executions (`source = 'api'`, which every such statement
 * says too), for every statement that looks one up: by trace id (index executions_trace_id, which holds
 * only native executions since migrations/0021), the tenant checked on the row. `IS TRUE` keeps the tenant out of the
 * index choice, where stale statistics (a tenant new or grown since the last ANALYZE, estimated at one
 * row) send the planner through all of the tenant's rows (migrations/0004). The tenant id is always `$1`.
 */

/** Any execution of the trace `trace` (an expression), on the table aliased `alias`. */
export const executionByTrace = (trace = "$2", alias = "") => `${alias}trace_id = ${trace} AND (${alias}tenant_id = $1) IS TRUE`

/**
 * The execution whose id (`<traceId>` or `<traceId>-<spanId>`, see migrations/0005) is `id`: its first
 * 32 characters are the trace id, so the same index finds it among the trace's few executions.
 */
export const executionById = (id = "$2", alias = "") =>
  `${alias}trace_id = left(${id}, 32) AND ${alias}execution_id = ${id} AND (${alias}tenant_id = $1) IS TRUE`

/**
 * The execution an OTLP root span made whose id is `id` (its trace id): through its trace's claim in
 * execution_traces, which holds its start time, then the primary key (tenant_id, start_time, trace_id,
 * span_id); executions_trace_id holds only native executions (migrations/0021).
 */
export const rootExecutionById = (id = "$2") =>
  `tenant_id = $1 AND start_time = (SELECT c.start_time FROM execution_traces c WHERE c.tenant_id = $1 AND c.trace_id = left(${id}, 32))
   AND trace_id = left(${id}, 32) AND execution_id = ${id} AND source = 'otlp'`

/** Every execution whose id is `id`, native or from a root span (a FROM item: use it as `${executionsWithId()} x`). */
export const executionsWithId = (id = "$2") =>
  `(SELECT * FROM executions WHERE ${executionById(id)} AND source = 'api'
    UNION ALL
    SELECT * FROM executions WHERE ${rootExecutionById(id)})`
