import { Effect, Schedule } from "effect"
import { DbError, queryInOrder, queryInOrderAndCommit } from "./client.ts"
import type { DbClient, Queryable, Row, Statement } from "./client.ts"

/**
 * Locks the tenant's cursor row of a pipeline stage for the rest of the transaction (creating it on
 * first use) and moves its version on, so that a stage worker that read before it writes nothing
 * (advanceCursorStatement fails): nothing else of the tenant's stage interleaves with this transaction;
 * other tenants are not blocked.
 */
export const lockCursor = (tx: Queryable, tenantId: string, stage: string) =>
  Effect.asVoid(queryInOrder(tx, [
    { text: "INSERT INTO pipeline_cursor (tenant_id, stage) VALUES ($1, $2) ON CONFLICT DO NOTHING", values: [tenantId, stage] },
    { text: "SELECT 1 FROM pipeline_cursor WHERE tenant_id = $1 AND stage = $2 FOR UPDATE", values: [tenantId, stage] },
    { text: "UPDATE pipeline_cursor SET version = version + 1 WHERE tenant_id = $1 AND stage = $2", values: [tenantId, stage] }
  ]))

/** The version of the tenant's cursor of a stage, read with the stage's inputs (0 before its first write). */
export const cursorVersionStatement = (tenantId: string, stage: string): Statement => ({
  text: "SELECT coalesce((SELECT version FROM pipeline_cursor WHERE tenant_id = $1 AND stage = $2), 0)::text AS version",
  values: [tenantId, stage]
})

export const versionOf = (rows: ReadonlyArray<Record<string, unknown>> | undefined): string => String(rows?.[0]?.version ?? "0")

/**
 * A stage's writes begin with this statement (migrations/0018_cursor_version.sql): it moves the cursor
 * from `version` (read with the inputs) to the next, or fails with CURSOR_MOVED when another worker or
 * an acknowledgement wrote since; the transaction then rolls back having written nothing.
 */
export const advanceCursorStatement = (tenantId: string, stage: string, version: string): Statement => ({
  text: "SELECT mplp_advance_cursor($1, $2, $3::int8)",
  values: [tenantId, stage, version]
})

/**
 * A stage's reads, `cursorVersionStatement` first. On the embedded database in a transaction of their
 * own, which its thread runs as one message (one round trip, one snapshot); on a server one after another
 * without a transaction (no BEGIN and COMMIT round trips): the version is read first, and whatever
 * another writer changes after that moves the version too, so a write from these reads fails whether
 * they saw that change or not.
 */
export const readWithVersion = (db: DbClient, statements: ReadonlyArray<Statement>): Effect.Effect<ReadonlyArray<ReadonlyArray<Row>>, DbError> =>
  db.kind === "embedded" ? db.transaction((tx) => queryInOrderAndCommit(tx, statements)) : queryInOrder(db, statements)

/** SQLSTATE serialization_failure: what advanceCursorStatement fails with when the cursor moved. */
export const CURSOR_MOVED = "40001"

/** How many times a stage reads again after its cursor moved, before its job fails (and BullMQ retries it). */
const CURSOR_ATTEMPTS = 20

/**
 * Runs a stage's read → compute → write (`attempt`, whose write begins with advanceCursorStatement)
 * again while another writer overtook it, after a short random pause (so that two writers that keep
 * meeting part). Each attempt reads afresh, so a retry sees what the other wrote (usually: nothing left
 * to do). Writers of one process take turns per tenant first (oneAtATime), so retries come from other
 * processes only.
 */
export const withCursor = <A, E, R>(attempt: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  attempt.pipe(Effect.retry({
    times: CURSOR_ATTEMPTS - 1,
    schedule: Schedule.jittered(Schedule.exponential("2 millis", 1.5)),
    while: (e) => e instanceof DbError && e.code === CURSOR_MOVED
  }))

/**
 * A keyed turn within this process: the effects given the same key run one after another, others side
 * by side (the stages key theirs by tenant, as the cursor row's lock did, without holding the database
 * while they compute). An entry lives while some effect holds or waits for its key.
 */
export const oneAtATime = () => {
  const turns = new Map<string, { readonly semaphore: Effect.Semaphore; users: number }>()
  return <A, E, R>(key: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.suspend(() => {
      let turn = turns.get(key)
      if (turn === undefined) {
        turn = { semaphore: Effect.unsafeMakeSemaphore(1), users: 0 }
        turns.set(key, turn)
      }
      const entry = turn
      entry.users++
      return entry.semaphore.withPermits(1)(effect).pipe(Effect.ensuring(Effect.sync(() => {
        if (--entry.users === 0 && turns.get(key) === entry) turns.delete(key)
      })))
    })
}
