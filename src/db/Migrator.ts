import { Data, Effect, Schedule } from "effect"
import { createHash } from "node:crypto"
import { readdir, readFile } from "node:fs/promises"
import { fileURLToPath } from "node:url"
import { Db } from "./Db.ts"
import type { Queryable } from "./Db.ts"
import { DbError } from "./client.ts"
import { messageOf } from "../domain/errors.ts"

export class MigrationError extends Data.TaggedError("MigrationError")<{ readonly message: string }> {}

export interface Migration {
  readonly version: number
  readonly name: string
  readonly sql: string
  readonly checksum: string
}

export const defaultMigrationsDir = fileURLToPath(new URL("../../migrations/", import.meta.url))

// One key for every process migrating this database: the transaction-level lock serialises them.
const LOCK_KEY = 7_346_201_001

/**
 * A catalog row changed under the migration by another backend (TimescaleDB's scheduler), or a deadlock
 * with one (SQLSTATE 40P01: the scheduler's first policy runs on a fresh server lock a hypertable's
 * chunks in another order than a migration's index change; seen on 2.28.3 in 1 of 3 fresh starts of a
 * bench round): the transaction rolled back whole, worth another try.
 */
const raced = (e: unknown) =>
  e instanceof DbError && (/tuple concurrently (deleted|updated)/.test(e.message) || e.code === "40P01")

export const loadMigrations = (dir: string = defaultMigrationsDir) =>
  Effect.tryPromise({
    try: async () => {
      const files = (await readdir(dir)).filter((f) => f.endsWith(".sql")).sort()
      const out: Array<Migration> = []
      for (const file of files) {
        const m = /^(\d{4})_([\w-]+)\.sql$/.exec(file)
        if (m === null) throw new Error(`migration file ${file} is not named NNNN_name.sql`)
        const sql = (await readFile(`${dir}/${file}`, "utf8")).replace(/\r\n/g, "\n")
        out.push({ version: Number(m[1]), name: file, sql, checksum: createHash("sha256").update(sql).digest("hex") })
      }
      const versions = out.map((x) => x.version)
      if (new Set(versions).size !== versions.length) throw new Error("two migration files share a version number")
      return out
    },
    catch: (cause) => new MigrationError({ message: messageOf(cause) })
  })

const lockAndReadApplied = (tx: Queryable) =>
  Effect.gen(function* () {
    yield* tx.query(`SELECT pg_advisory_xact_lock(${LOCK_KEY})`)
    yield* tx.exec(`CREATE TABLE IF NOT EXISTS mplp_migrations (
      version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`)
    const rows = yield* tx.query<{ version: number; name: string; checksum: string }>(
      "SELECT version, name, checksum FROM mplp_migrations ORDER BY version"
    )
    return new Map(rows.map((r) => [Number(r.version), r]))
  })

/**
 * Applies pending migrations in order, each in its own transaction under an advisory lock, and
 * refuses to run when an applied migration's file has changed since.
 */
export const migrate = (migrations: ReadonlyArray<Migration>) =>
  Effect.gen(function* () {
    const db = yield* Db
    const applied = yield* db.transaction(lockAndReadApplied)
    for (const m of migrations) {
      const done = applied.get(m.version)
      if (done !== undefined && done.checksum !== m.checksum) {
        return yield* new MigrationError({
          message: `migration ${m.name} was edited after it was applied (checksum ${done.checksum.slice(0, 12)}… in the database, ${m.checksum.slice(0, 12)}… on disk); restore it and add a new migration instead`
        })
      }
    }
    const newlyApplied: Array<string> = []
    for (const m of migrations) {
      if (applied.has(m.version)) continue
      const ran = yield* db.transaction((tx) =>
        Effect.gen(function* () {
          const now = yield* lockAndReadApplied(tx)
          if (now.has(m.version)) return false // another process applied it while we waited for the lock
          yield* tx.exec(m.sql)
          yield* tx.query("INSERT INTO mplp_migrations (version, name, checksum) VALUES ($1, $2, $3)", [m.version, m.name, m.checksum])
          return true
        })
      ).pipe(
        // TimescaleDB's job scheduler runs policies beside the migration: dropping an aggregate whose policy
        // job the scheduler touches at that moment fails with "tuple concurrently deleted" (seen on fresh
        // servers, 2 starts in 8), an index change can deadlock with it (see raced). The transaction
        // rolled back whole: the same migration runs again.
        Effect.retry({ while: raced, schedule: Schedule.spaced("500 millis"), times: 5 }),
        Effect.mapError((e) =>
          e._tag === "DbError" ? new MigrationError({ message: `migration ${m.name} failed: ${e.message}` }) : e
        )
      )
      if (ran) newlyApplied.push(m.name)
    }
    if (newlyApplied.length > 0) yield* Effect.logInfo(`applied migrations: ${newlyApplied.join(", ")}`)
    return newlyApplied
  })

export const migrateFromDir = (dir?: string) => Effect.flatMap(loadMigrations(dir), migrate)
