import { Effect, Logger, LogLevel } from "effect"
import type { Scope } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Db } from "../src/db/Db.ts"
import type { DbClient } from "../src/db/Db.ts"
import { makeEmbedded } from "../src/db/embedded.ts"
import { migrateFromDir } from "../src/db/Migrator.ts"
import { makePgPool } from "../src/db/pgPool.ts"

export type DbKind = "embedded" | "postgres"

export const dbKind = (): DbKind => (process.env.DATABASE_URL === undefined || process.env.DATABASE_URL === "" ? "embedded" : "postgres")

/**
 * The database the in-process scenarios write to, migrated: the same embedded TimescaleDB the
 * service opens (on disk, in a fresh temporary folder) or, with DATABASE_URL, a pg pool on that server.
 */
export const openBenchDb = Effect.gen(function* () {
  const url = process.env.DATABASE_URL
  let db: DbClient
  if (url === undefined || url === "") {
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "mplp-bench-db-"))),
      (d) => Effect.sync(() => rmSync(d, { recursive: true, force: true }))
    )
    db = yield* makeEmbedded(dir)
  } else {
    db = yield* makePgPool(url, 4)
  }
  yield* migrateFromDir().pipe(Effect.provideService(Db, db))
  return db
}).pipe(Logger.withMinimumLogLevel(LogLevel.Warning))

/** Runs an effect that needs only a scope, as a promise (the bench's in-process scenarios). */
export const runScoped = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>): Promise<A> =>
  Effect.runPromise(Effect.scoped(effect).pipe(Logger.withMinimumLogLevel(LogLevel.Warning)))
