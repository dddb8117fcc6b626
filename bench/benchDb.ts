import { Effect, Logger, LogLevel, Schedule } from "effect"
import type { Scope } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Db } from "../src/db/Db.ts"
import type { DbClient } from "../src/db/Db.ts"
import { embeddedClient, openPglite } from "../src/db/embedded.ts"
import { migrateFromDir } from "../src/db/Migrator.ts"
import { makePgPool } from "../src/db/pgPool.ts"
import { pgliteCopyTarget, serverCopyTarget } from "./copyBaseline.ts"
import type { CopyTarget } from "./copyBaseline.ts"

export type DbKind = "embedded" | "postgres"

export const dbKind = (): DbKind => (process.env.DATABASE_URL === undefined || process.env.DATABASE_URL === "" ? "embedded" : "postgres")

/**
 * The database the in-process scenarios write to, migrated: the same embedded TimescaleDB the
 * service opens (on disk, in a fresh temporary folder) or, with DATABASE_URL, a pg pool on that server;
 * with a COPY path into the same database (src: bench/copyBaseline.ts).
 */
export const openBenchDbWithCopy = Effect.gen(function* () {
  const url = process.env.DATABASE_URL
  let db: DbClient
  let copy: CopyTarget
  if (url === undefined || url === "") {
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "mplp-bench-db-"))),
      (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true }))
    )
    const pg = yield* Effect.acquireRelease(openPglite(dir), (p) => Effect.promise(() => p.close()).pipe(Effect.ignore))
    db = yield* embeddedClient(pg)
    copy = pgliteCopyTarget(pg)
  } else {
    db = yield* makePgPool(url, 4)
    copy = yield* serverCopyTarget(url)
  }
  yield* migrateFromDir().pipe(Effect.provideService(Db, db))
  return { db, copy }
}).pipe(Logger.withMinimumLogLevel(LogLevel.Warning))

export const openBenchDb = Effect.map(openBenchDbWithCopy, (x) => x.db)

/** Runs an effect that needs only a scope, as a promise (the bench's in-process scenarios). */
export const runScoped = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>): Promise<A> =>
  Effect.runPromise(Effect.scoped(effect).pipe(Logger.withMinimumLogLevel(LogLevel.Warning)))

/**
 * `CALL refresh_continuous_aggregate(…)`, again (up to 20 times, 250 ms apart) while the server's own
 * policy job refreshes the same aggregate: TimescaleDB refuses a concurrent refresh, which ended a
 * bench run on the server.
 */
export const refreshAggregate = (db: DbClient, view: string, endOffset: string) =>
  db.query(`CALL refresh_continuous_aggregate('${view}', NULL, now() - INTERVAL '${endOffset}')`).pipe(
    Effect.retry({ while: (e) => /concurrent refresh/.test(String((e as { cause?: unknown }).cause ?? e)), schedule: Schedule.spaced("250 millis"), times: 20 })
  )
