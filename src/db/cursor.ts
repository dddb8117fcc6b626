import { Effect } from "effect"
import type { Queryable } from "./Db.ts"

/**
 * Locks the tenant's cursor row of a pipeline stage for the rest of the transaction (creating it on
 * first use): two workers of a stage never interleave one tenant's work, whatever order their jobs
 * arrive in; other tenants are not blocked.
 */
export const lockCursor = (tx: Queryable, tenantId: string, stage: string) =>
  Effect.zipRight(
    tx.query("INSERT INTO pipeline_cursor (tenant_id, stage) VALUES ($1, $2) ON CONFLICT DO NOTHING", [tenantId, stage]),
    tx.query("SELECT 1 FROM pipeline_cursor WHERE tenant_id = $1 AND stage = $2 FOR UPDATE", [tenantId, stage])
  ).pipe(Effect.asVoid)
