import { Effect } from "effect"
import pg from "pg"
import { DbError } from "./client.ts"
import { makeFairGate } from "./fairGate.ts"
import type { DbClient, Queryable, Row } from "./client.ts"

// int8 and numeric as JS numbers, as the embedded driver returns them: counts and sums here stay far below 2^53.
const types = {
  getTypeParser: (oid: number, format?: "text" | "binary") => {
    if (oid === 20 || oid === 1700) return (v: string) => Number(v)
    return pg.types.getTypeParser(oid, format as "text")
  }
}

const wrap = (client: pg.Pool | pg.PoolClient): Queryable => ({
  query: <R extends Row = Row>(text: string, values: ReadonlyArray<unknown> = []) =>
    Effect.tryPromise({
      try: async () => (await client.query<R>(text, [...values])).rows,
      catch: (cause) => new DbError({ cause, sql: text })
    }),
  exec: (sql: string) =>
    Effect.tryPromise({ try: async () => void (await client.query(sql)), catch: (cause) => new DbError({ cause, sql }) })
})

/** A pg pool against a real TimescaleDB server; `statementTimeoutMs` sets statement_timeout in each of its sessions. */
export const makePgPool = (url: string, max = 10, idleTimeoutMillis = 10_000, statementTimeoutMs?: number) =>
  Effect.gen(function* () {
    const pool = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const p = new pg.Pool({
          connectionString: url, max, idleTimeoutMillis, types, connectionTimeoutMillis: 10_000, application_name: "mplp-trace",
          ...(statementTimeoutMs === undefined ? {} : { statement_timeout: statementTimeoutMs })
        })
        // An idle client losing its connection (server restart) must not crash the process.
        p.on("error", () => {})
        return p
      }),
      (p) => Effect.promise(() => p.end()).pipe(Effect.ignore)
    )
    const raw = wrap(pool)
    // The pool's connections handed out fairly between tenants (src/db/fairGate.ts): as many slots as
    // connections, so pg's own FIFO of waiting clients never forms.
    const gate = makeFairGate(max)
    const client: DbClient = {
      kind: "postgres",
      query: (text, values) => gate(false, raw.query(text, values)),
      exec: (sql) => gate(false, raw.exec(sql)),
      transaction: (f) =>
        gate(false, Effect.acquireUseRelease(
          Effect.tryPromise({ try: () => pool.connect(), catch: (cause) => new DbError({ cause }) }),
          (conn) => {
            const tx = wrap(conn)
            return tx.exec("BEGIN").pipe(Effect.zipRight(f(tx)), Effect.zipLeft(tx.exec("COMMIT")))
          },
          (conn, exit) =>
            (exit._tag === "Success" ? Effect.void : wrap(conn).exec("ROLLBACK")).pipe(
              Effect.match({
                // A connection whose rollback failed is broken: destroy it rather than return it to the pool.
                onFailure: (e) => conn.release(e.cause instanceof Error ? e.cause : true),
                onSuccess: () => conn.release()
              })
            )
        )),
      ping: gate(false, raw.query("SELECT 1")).pipe(Effect.asVoid)
    }
    return client
  })
