/**
 * The WHERE condition that finds a tenant's execution by trace id, for every statement that looks one
 * up: by trace id (index executions_trace_id), the tenant checked on the row. `IS TRUE` keeps the
 * tenant out of the index choice, where stale statistics (a tenant new or grown since the last
 * ANALYZE, estimated at one row) send the planner through all of the tenant's rows (migrations/0004).
 * The tenant id is always `$1`; `trace` is the trace id's expression, `alias` the table's alias.
 */
export const executionByTrace = (trace = "$2", alias = "") => `${alias}trace_id = ${trace} AND (${alias}tenant_id = $1) IS TRUE`
