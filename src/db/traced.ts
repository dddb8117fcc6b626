import { Effect, Option } from "effect"
import type { DbClient, Queryable, Row, Statement } from "./client.ts"

/** Long statements (a batch insert's VALUES list) are cut: the span names the statement, it does not store it. */
const STATEMENT_MAX = 1_000

const statementOf = (sql: string) => {
  const s = sql.replace(/\s+/g, " ").trim()
  return s.length > STATEMENT_MAX ? `${s.slice(0, STATEMENT_MAX)}…` : s
}

/**
 * A statement's span, a child of the span it runs in (the stage's job, the request). Outside any span (a
 * background sweep, start-up) there is none: a root span per statement would be a trace per statement.
 */
const inSpan = (name: string, sql: string) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.option(Effect.currentParentSpan), (parent) =>
    Option.isNone(parent)
      ? effect
      : Effect.withSpan(effect, name, { kind: "client", captureStackTrace: false, attributes: { "db.system": "postgresql", "db.statement": statementOf(sql) } })
  )

/** The statements' span names the first of them and how many there are. */
const statementsOf = (statements: ReadonlyArray<Statement>) => `${statements[0]?.text ?? ""} (${statements.length} statements)`

// Every optional capability of the client is kept: without queryMany and commitWith a transaction's
// statements would go one round trip each while it holds the embedded database.
const tracedQueryable = (q: Queryable): Queryable => {
  const { copyFrom: copy, queryMany: many, commitWith: commit } = q
  return {
    query: <R extends Row = Row>(text: string, values?: ReadonlyArray<unknown>) => q.query<R>(text, values).pipe(inSpan("Db.query", text)),
    exec: (sql) => q.exec(sql).pipe(inSpan("Db.exec", sql)),
    ...(copy === undefined ? {} : {
      copyFrom: (table: string, columns: ReadonlyArray<string>, rows: Buffer) =>
        copy(table, columns, rows).pipe(inSpan("Db.copy", `COPY ${table} (${columns.join(", ")}) FROM STDIN`))
    }),
    ...(many === undefined ? {} : {
      queryMany: (statements: ReadonlyArray<Statement>) => many(statements).pipe(inSpan("Db.queryMany", statementsOf(statements)))
    }),
    ...(commit === undefined ? {} : {
      commitWith: (statements: ReadonlyArray<Statement>) => commit(statements).pipe(inSpan("Db.commitWith", statementsOf(statements)))
    })
  }
}

/** The client with a span per statement (db.system, db.statement) and one per transaction around its statements. */
export const traced = (client: DbClient): DbClient => ({
  ...client,
  ...tracedQueryable(client),
  transaction: (f) => client.transaction((tx) => f(tracedQueryable(tx))).pipe(inSpan("Db.transaction", "BEGIN"))
})
