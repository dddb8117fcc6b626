import { Context, Effect, Layer, Option, Redacted } from "effect"
import { AppConfig } from "../config/AppConfig.ts"
import { makeEmbeddedThread } from "./embedded.ts"
import { makePgPool } from "./pgPool.ts"
import { traced } from "./traced.ts"
import type { DbClient, Row } from "./client.ts"

export { DbError, queryInOrder, queryInOrderAndCommit } from "./client.ts"
export type { DbClient, Queryable, Row, Statement } from "./client.ts"

export class Db extends Context.Tag("db/Db")<Db, DbClient>() {
  /** `DATABASE_URL` set: a pg pool against that server; unset: the embedded TimescaleDB in `MPLP_DATA_DIR`, on its own thread. */
  static readonly Live = Layer.scoped(
    Db,
    Effect.gen(function* () {
      const config = yield* AppConfig
      const client = yield* Option.match(config.databaseUrl, {
        onNone: () => makeEmbeddedThread(config.dataDir, undefined, Option.getOrUndefined(config.embeddedSeed)),
        onSome: (url) => makePgPool(Redacted.value(url), config.dbPoolMax, config.dbIdleMs, undefined, config.dbCopyStreams)
      })
      return traced(client)
    })
  )
}

/** Runs one statement and returns its first row, if any. */
export const first = <R extends Row>(rows: ReadonlyArray<R>): Option.Option<R> => Option.fromNullable(rows[0])
