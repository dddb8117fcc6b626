import { parseArgs } from "node:util"
import { argsOrUsage } from "../src/config/cliArgs.ts"

// `npm run migrate`: applies pending migrations (the service also does this at start) and says what it did.
argsOrUsage("usage: npm run migrate (no arguments)", () => parseArgs({ options: {}, strict: true, allowPositionals: false }))
const { Effect } = await import("effect")
const { Db } = await import("../src/db/Db.ts")
const { migrateFromDir } = await import("../src/db/Migrator.ts")
const { runCommand } = await import("./cli.ts")
runCommand(
  migrateFromDir().pipe(
    Effect.tap((applied) => Effect.sync(() => console.log(applied.length === 0 ? "database is up to date" : `applied: ${applied.join(", ")}`))),
    Effect.provide(Db.Live)
  )
)
