import { Duration, Effect, Fiber, Layer, Option, Redacted } from "effect"
import { AppConfig } from "../config/AppConfig.ts"
import { Db, DbError } from "./Db.ts"
import type { DbClient, Queryable } from "./Db.ts"
import { makePgPool } from "./pgPool.ts"
import { traced } from "./traced.ts"

/** PostgreSQL's SQLSTATE for a statement cancelled by statement_timeout; the API answers it with a 503. */
export const QUERY_CANCELED = "57014"

const timedOut = (sql: string, message: string) =>
  new DbError({ cause: Object.assign(new Error(message), { code: QUERY_CANCELED }), sql })

/**
 * The database as the read endpoints see it: a statement running longer than `timeoutMs` is abandoned
 * with a query_canceled DbError. On a server, `server` (a pool whose sessions carry statement_timeout)
 * also stops the statement itself. The embedded database cannot be interrupted (PGlite in WASM delivers
 * no timer signal: `SET statement_timeout` is accepted and never fires, measured), so its statement runs
 * on to the end; while one abandoned statement still runs, further reads are refused at once instead of
 * queueing behind it. `pipeline` answers pings: readiness does not depend on a slow read.
 */
export const withStatementTimeout = (server: DbClient, pipeline: DbClient, timeoutMs: number): DbClient => {
  let abandoned = 0
  const timed = <A>(sql: string, effect: Effect.Effect<A, DbError>): Effect.Effect<A, DbError> =>
    Effect.suspend(() => {
      if (abandoned > 0) return Effect.fail(timedOut(sql, "an earlier read that ran past the statement timeout is still running"))
      return Effect.gen(function* () {
        // A daemon fiber: the statement cannot be interrupted anyway, and it must outlive this request.
        const fiber = yield* Effect.forkDaemon(effect)
        const done = yield* Fiber.join(fiber).pipe(Effect.timeoutOption(Duration.millis(timeoutMs)))
        if (Option.isSome(done)) return done.value
        abandoned++
        yield* Effect.forkDaemon(Fiber.await(fiber).pipe(Effect.ensuring(Effect.sync(() => abandoned--))))
        return yield* timedOut(sql, `the statement ran longer than ${timeoutMs} ms`)
      })
    })
  const q: Queryable = {
    query: (text, values) => timed(text, server.query(text, values)),
    exec: (sql) => timed(sql, server.exec(sql))
  }
  return {
    kind: server.kind,
    ...q,
    transaction: (f) => server.transaction(f),
    ping: pipeline.ping
  }
}

/**
 * `Db` for the read endpoints (provided to the API's handlers in src/api/server.ts): statements under
 * MPLP_QUERY_TIMEOUT_MS. Against DATABASE_URL it is a pool of its own with `statement_timeout` set per
 * session, so the pipeline's writes never run under it.
 */
export const QueryDbLive = Layer.scoped(
  Db,
  Effect.gen(function* () {
    const config = yield* AppConfig
    const pipeline = yield* Db
    const server = yield* Option.match(config.databaseUrl, {
      onNone: () => Effect.succeed(pipeline),
      onSome: (url) => Effect.map(makePgPool(Redacted.value(url), config.dbPoolMax, config.dbIdleMs, config.queryTimeoutMs), traced)
    })
    // Against a server the client-side limit is a backstop, a little after the server's own cancel.
    const clientTimeoutMs = Option.isSome(config.databaseUrl) ? config.queryTimeoutMs + 1000 : config.queryTimeoutMs
    return withStatementTimeout(server, pipeline, clientTimeoutMs)
  })
)
