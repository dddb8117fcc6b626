import { Context, Data, Effect, Layer, Option, Redacted } from "effect"
import { AppConfig } from "../config/AppConfig.ts"
import { makeEmbeddedThread } from "./embedded.ts"
import { makePgPool } from "./pgPool.ts"
import { traced } from "./traced.ts"
import { messageOf } from "../domain/errors.ts"

export class DbError extends Data.TaggedError("DbError")<{ readonly cause: unknown; readonly sql?: string }> {
  override get message(): string {
    const c = this.cause
    return messageOf(c)
  }
  /** The SQLSTATE of the underlying error, when the server gave one. */
  get code(): string | undefined {
    const c = this.cause
    return typeof c === "object" && c !== null && "code" in c && typeof c.code === "string" ? c.code : undefined
  }
}

export type Row = Record<string, unknown>

/** What runs statements: the pool, or one transaction's connection. */
export interface Queryable {
  readonly query: <R extends Row = Row>(text: string, values?: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<R>, DbError>
  /** Several statements without parameters (migrations). */
  readonly exec: (sql: string) => Effect.Effect<void, DbError>
}

export interface DbClient extends Queryable {
  readonly kind: "embedded" | "postgres"
  /**
   * Runs `f` in one transaction on one connection. Inside, use only `tx`: in embedded mode the
   * single connection is held for the whole transaction, so a call on the outer client would wait forever.
   */
  readonly transaction: <A, E, R>(f: (tx: Queryable) => Effect.Effect<A, E, R>) => Effect.Effect<A, E | DbError, R>
  /** Statements that must run outside any transaction block (e.g. `CALL refresh_continuous_aggregate`). */
  readonly ping: Effect.Effect<void, DbError>
}

export class Db extends Context.Tag("db/Db")<Db, DbClient>() {
  /** `DATABASE_URL` set: a pg pool against that server; unset: the embedded TimescaleDB in `MPLP_DATA_DIR`, on its own thread. */
  static readonly Live = Layer.scoped(
    Db,
    Effect.gen(function* () {
      const config = yield* AppConfig
      const client = yield* Option.match(config.databaseUrl, {
        onNone: () => makeEmbeddedThread(config.dataDir),
        onSome: (url) => makePgPool(Redacted.value(url), config.dbPoolMax, config.dbIdleMs)
      })
      return traced(client)
    })
  )
}

/** Runs one statement and returns its first row, if any. */
export const first = <R extends Row>(rows: ReadonlyArray<R>): Option.Option<R> => Option.fromNullable(rows[0])
