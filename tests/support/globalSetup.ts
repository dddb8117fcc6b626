import { Effect } from "effect"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { TestProject } from "vitest/node"
import { embeddedClient, openPglite } from "../../src/db/embedded.ts"
import { Db } from "../../src/db/Db.ts"
import { migrateFromDir } from "../../src/db/Migrator.ts"

declare module "vitest" {
  export interface ProvidedContext {
    /** A migrated embedded database, dumped: what `embeddedSeed()` (tests/support/harness.ts) hands each test database to start from. */
    embeddedSeed: string
  }
}

/**
 * Migrates one in-memory TimescaleDB and dumps its data folder, once per run: the test apps' databases
 * start from that dump (MPLP_EMBEDDED_SEED) instead of running initdb and the migrations each time.
 * The migrations themselves are still tested from an empty database (tests/db/migrator.test.ts).
 */
export default async function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), "mplp-seed-"))
  const file = join(dir, "migrated.tar")
  await Effect.runPromise(Effect.scoped(Effect.gen(function* () {
    const pg = yield* Effect.acquireRelease(openPglite("memory://"), (db) => Effect.promise(() => db.close()))
    yield* Effect.provideServiceEffect(migrateFromDir(), Db, embeddedClient(pg))
    const dump = yield* Effect.promise(() => pg.dumpDataDir("none"))
    writeFileSync(file, Buffer.from(yield* Effect.promise(() => dump.arrayBuffer())))
  })))
  project.provide("embeddedSeed", file)
  return () => rmSync(dir, { recursive: true, force: true })
}
