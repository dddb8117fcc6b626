import { Data, Effect } from "effect"
import { messageOf } from "../domain/errors.ts"

// What every database client is, apart from which one the application picks (src/db/Db.ts): the
// clients (pgPool.ts, embedded.ts) import this, not Db.ts, so nothing imports in a circle.

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

/** SQLSTATE feature_not_supported: what copyFrom fails with where the server takes no COPY. */
export const COPY_UNSUPPORTED = "0A000"

/** What runs statements: the pool, or one transaction's connection. */
export interface Queryable {
  readonly query: <R extends Row = Row>(text: string, values?: ReadonlyArray<unknown>) => Effect.Effect<ReadonlyArray<R>, DbError>
  /** Several statements without parameters (migrations). */
  readonly exec: (sql: string) => Effect.Effect<void, DbError>
  /**
   * `COPY table (columns) FROM STDIN` of rows already in COPY's text format (src/ingest/copyText.ts), their
   * UTF-8 bytes, as one statement: when it fails it stored none of them. A server's pool and the embedded database
   * (PGlite's '/dev/blob') have it; a transaction's connection does not (a failed COPY would abort the transaction).
   * Against the embedded database's wire server it fails with COPY_UNSUPPORTED: the caller inserts instead.
   */
  readonly copyFrom?: (table: string, columns: ReadonlyArray<string>, rows: Buffer) => Effect.Effect<void, DbError>
  /**
   * Several statements run in order, sent at once where the client can (the embedded thread's
   * transactions: one round trip instead of one each, while the transaction holds the database);
   * fails with the first failure. Use `queryInOrder`, which falls back to one after another.
   */
  readonly queryMany?: (statements: ReadonlyArray<Statement>) => Effect.Effect<ReadonlyArray<ReadonlyArray<Row>>, DbError>
  /**
   * A transaction's last statements, sent with its COMMIT (the embedded thread's transactions): the
   * thread runs them and commits at once (rolls back if one failed), without waiting for this thread's
   * word, so the transaction holds the database for one round trip less. Nothing may run in the
   * transaction after it. Use `queryInOrderAndCommit`, which falls back to queryInOrder (the COMMIT then
   * follows as usual).
   */
  readonly commitWith?: (statements: ReadonlyArray<Statement>) => Effect.Effect<ReadonlyArray<ReadonlyArray<Row>>, DbError>
}

export interface Statement {
  readonly text: string
  readonly values?: ReadonlyArray<unknown>
}

/** The statements in order, at once where `q` can send them so (see Queryable.queryMany); each one's rows. */
export const queryInOrder = (q: Queryable, statements: ReadonlyArray<Statement>): Effect.Effect<ReadonlyArray<ReadonlyArray<Row>>, DbError> =>
  statements.length === 0
    ? Effect.succeed([])
    : q.queryMany !== undefined
    ? q.queryMany(statements)
    : Effect.forEach(statements, (s) => q.query(s.text, s.values))

/** A transaction's last statements (see Queryable.commitWith): with its COMMIT where `tx` can, else in order. */
export const queryInOrderAndCommit = (tx: Queryable, statements: ReadonlyArray<Statement>): Effect.Effect<ReadonlyArray<ReadonlyArray<Row>>, DbError> =>
  statements.length > 0 && tx.commitWith !== undefined ? tx.commitWith(statements) : queryInOrder(tx, statements)

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
