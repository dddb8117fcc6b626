import { Effect } from "effect"
import { Db } from "../src/db/Db.ts"
import { migrateFromDir } from "../src/db/Migrator.ts"
import { runCommand } from "./cli.ts"

// `npm run migrate`: applies pending migrations (the service also does this at start) and says what it did.
runCommand(
  migrateFromDir().pipe(
    Effect.tap((applied) => Effect.sync(() => console.log(applied.length === 0 ? "database is up to date" : `applied: ${applied.join(", ")}`))),
    Effect.provide(Db.Live)
  )
)
