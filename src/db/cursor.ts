import { Effect } from "effect"
import { queryInOrder } from "./client.ts"
import type { Queryable, Statement } from "./client.ts"

/** The statements of lockCursor, to send ahead of others in one round trip (see queryInOrder). */
export const lockCursorStatements = (tenantId: string, stage: string): ReadonlyArray<Statement> => [
  { text: "INSERT INTO pipeline_cursor (tenant_id, stage) VALUES ($1, $2) ON CONFLICT DO NOTHING", values: [tenantId, stage] },
  { text: "SELECT 1 FROM pipeline_cursor WHERE tenant_id = $1 AND stage = $2 FOR UPDATE", values: [tenantId, stage] }
]

/**
 * Locks the tenant's cursor row of a pipeline stage for the rest of the transaction (creating it on
 * first use): two workers of a stage never interleave one tenant's work, whatever order their jobs
 * arrive in; other tenants are not blocked.
 */
export const lockCursor = (tx: Queryable, tenantId: string, stage: string) =>
  Effect.asVoid(queryInOrder(tx, lockCursorStatements(tenantId, stage)))
