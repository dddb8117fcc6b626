import { Cause, Effect, Exit, Option } from "effect"
import pg from "pg"
import { COPY_UNSUPPORTED, DbError } from "./client.ts"
import { makeCopyCoalescer } from "./copyCoalescer.ts"
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

// pg's connection writes COPY's messages with these (pg/lib/connection.js); @types/pg leaves them out.
declare module "pg" {
  interface Connection {
    _send(buffer: Buffer): boolean
    endCopyFrom(): void
  }
}

/** A CopyData message's header: 'd' and the length of the message (itself and the data behind it). */
const copyDataHeader = (dataBytes: number): Buffer => {
  const h = Buffer.allocUnsafe(5)
  h[0] = 0x64
  h.writeInt32BE(dataBytes + 4, 1)
  return h
}

/**
 * `COPY … FROM STDIN` with its data written right behind the statement, so a chunk costs one round trip as
 * an INSERT does; should the statement fail before reading them, the server drops COPY data it did not ask
 * for (protocol). pg has no COPY API, and pg-copy-streams' writable can throw outside any handler when the
 * server's error arrives while it waits for the socket to drain (brianc/node-pg-copy-streams#171): an error
 * that a row already stored provokes here by design.
 */
const copyIn = (conn: pg.PoolClient, text: string, parts: ReadonlyArray<Buffer>) =>
  new Promise<void>((resolve, reject) => {
    conn.query({
      submit: (connection: pg.Connection) => {
        connection.query(text)
        // Each part a CopyData message of its own, its header then the part as it is, in one write: pg's
        // sendCopyFromChunk copies a chunk into a new buffer, and the merged parts were concatenated first.
        connection.stream.cork()
        for (const part of parts) {
          connection._send(copyDataHeader(part.length))
          connection._send(part)
        }
        connection.stream.uncork()
        connection.endCopyFrom()
      },
      handleCopyInResponse: () => {},
      handleCommandComplete: () => {},
      // After an error pg has let go of the statement: its ReadyForQuery reaches only a statement that succeeded.
      handleReadyForQuery: () => resolve(),
      handleError: (e: unknown) => reject(e)
    })
  })

/** Bytes of COPY text one merged statement takes at most: ~8,000 spans, a few hundred ms of a server's backend. */
export const COPY_MERGE_BYTES = 4 * 1024 * 1024

/** A pg pool against a real TimescaleDB server; `statementTimeoutMs` sets statement_timeout in each of its sessions. */
export const makePgPool = (url: string, max = 10, idleTimeoutMillis = 10_000, statementTimeoutMs?: number, copyStreams: number | "separate" = 1) =>
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
    // The embedded database's wire server (workers/db.ts) passes the protocol to PGlite, which takes no
    // COPY FROM STDIN that way: asked once per pool, by the server's version().
    let copyable: boolean | undefined
    const canCopy = Effect.suspend(() =>
      copyable !== undefined
        ? Effect.succeed(copyable)
        : gate(false, raw.query<{ v: string }>("SELECT version() AS v")).pipe(Effect.map((rows) => (copyable = !/Emscripten/.test(String(rows[0]?.v ?? "")))))
    )
    const copy = (table: string, columns: ReadonlyArray<string>, rows: ReadonlyArray<Buffer>) => {
      const text = `COPY ${table} (${columns.join(", ")}) FROM STDIN`
      return gate(false, Effect.acquireUseRelease(
        Effect.tryPromise({ try: () => pool.connect(), catch: (cause) => new DbError({ cause }) }),
        (conn) => Effect.tryPromise({ try: () => copyIn(conn, text, rows), catch: (cause) => new DbError({ cause, sql: text }) }),
        // A connection whose COPY ended without the server's answer (broken, or interrupted mid-statement) is destroyed.
        (conn, exit) => Effect.sync(() => conn.release(
          Exit.isSuccess(exit) || Option.exists(Cause.failureOption(exit.cause), (e) => e.code !== undefined) ? undefined : true
        ))
      ))
    }
    // The COPYs of concurrent jobs into one table go as fewer, larger statements (src/db/copyCoalescer.ts),
    // `copyStreams` of them at once (MPLP_DB_COPY_STREAMS); "separate": each COPY its own statement, as
    // bench/copyMerge.ts compares.
    const coalesced = copyStreams === "separate" ? (table: string, columns: ReadonlyArray<string>, rows: Buffer) => copy(table, columns, [rows]) : makeCopyCoalescer(copy, { maxInFlight: Math.max(1, copyStreams), maxBytes: COPY_MERGE_BYTES })
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
      copyFrom: (table, columns, rows) =>
        Effect.flatMap(canCopy, (ok) =>
          ok
            ? coalesced(table, columns, rows)
            : Effect.fail(new DbError({ cause: { code: COPY_UNSUPPORTED, message: "COPY FROM STDIN is not taken by the embedded database's wire server" }, sql: `COPY ${table}` }))),
      ping: gate(false, raw.query("SELECT 1")).pipe(Effect.asVoid)
    }
    return client
  })
