import { Context, Effect, Layer, Option, Redacted } from "effect"
import { AppConfig } from "../config/AppConfig.ts"
import { Db, DbError } from "./Db.ts"
import type { DbClient, Queryable } from "./Db.ts"
import { makePgPool } from "./pgPool.ts"
import { withStatementTimeout } from "./QueryDb.ts"

/**
 * Should a read the replica failed be run again on the primary? Yes when the replica could not answer
 * at all (no connection: no SQLSTATE, class 08; shutting down or starting up: 57P) or cancelled the
 * statement for a conflict with WAL replay (40001 on a hot standby). Not for the statement timeout
 * (57014: the primary would take as long) nor for a bad value (22: the primary would refuse it too).
 */
export const retryOnPrimary = (error: DbError): boolean => {
  const code = error.code
  if (code === undefined || !/^[0-9A-Z]{5}$/.test(code)) return true
  return code.startsWith("08") || code.startsWith("57P") || code === "40001"
}

/** Reads on `replica`, each one the replica cannot answer run again on `primary` (logged). */
export const withPrimaryFallback = (replica: DbClient, primary: DbClient): DbClient => {
  const fallback = <A>(sql: string, onReplica: Effect.Effect<A, DbError>, onPrimary: Effect.Effect<A, DbError>) =>
    onReplica.pipe(
      Effect.catchIf(retryOnPrimary, (e) =>
        Effect.logWarning(`read replica (DATABASE_READ_URL) failed, reading from the primary: ${e.message}`).pipe(
          Effect.annotateLogs({ sql: sql.slice(0, 80) }),
          Effect.zipRight(onPrimary)
        )
      )
    )
  const q: Queryable = {
    query: (text, values) => fallback(text, replica.query(text, values), primary.query(text, values)),
    exec: (sql) => fallback(sql, replica.exec(sql), primary.exec(sql))
  }
  return { kind: replica.kind, ...q, transaction: (f) => replica.transaction(f), ping: replica.ping }
}

/**
 * The database the read-only query endpoints (search, series, services, service graph, timelines,
 * anomalies, alert lists) read: with DATABASE_READ_URL a streaming replica of the primary, in a pool of
 * its own under MPLP_QUERY_TIMEOUT_MS; without it the same database as every other endpoint (`Db` as
 * QueryDbLive provides it). A replica trails the primary by its replay lag: what must be fresh (an
 * execution by id right after the client's own start or finish, keys, tenants, settings, anything that
 * writes) reads `Db`, the primary. See the README, "Read replica".
 */
export class ReadDb extends Context.Tag("db/ReadDb")<ReadDb, DbClient>() {
  static readonly Live = Layer.scoped(
    ReadDb,
    Effect.gen(function* () {
      const config = yield* AppConfig
      const primary = yield* Db
      if (Option.isNone(config.databaseReadUrl)) return primary
      const pool = yield* makePgPool(Redacted.value(config.databaseReadUrl.value), config.dbPoolMax, config.dbIdleMs, config.queryTimeoutMs)
      const replica = withStatementTimeout(pool, pool, config.queryTimeoutMs + 1000)
      yield* Effect.logInfo("query endpoints read from the replica at DATABASE_READ_URL")
      return withPrimaryFallback(replica, primary)
    })
  )
}
