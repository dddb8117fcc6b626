import { Effect, Layer, Option } from "effect"
import { AppConfig } from "../config/AppConfig.ts"
import { Db, DbError } from "./Db.ts"
import { embeddedClient, openPglite } from "./embedded.ts"
import { migrateFromDir } from "./Migrator.ts"
import { serveWire } from "./wireServer.ts"

/**
 * The embedded TimescaleDB shared by several processes: this process owns the PGlite instance and
 * serves it over the PostgreSQL wire protocol (one client connection at a time, the others queue).
 * Every other process connects with DATABASE_URL=postgres://127.0.0.1:<port>/postgres,
 * MPLP_DB_POOL_MAX=1 and a small MPLP_DB_IDLE_MS, so a connection is handed on as soon as it idles.
 * In-process this layer only migrates (before serving) and refreshes aggregates (single statements),
 * never a multi-statement transaction that a served client could interleave with.
 */
export const EmbeddedServer = Layer.scoped(
  Db,
  Effect.gen(function* () {
    const config = yield* AppConfig
    const port = Option.getOrElse(config.embeddedDbPort, () => 5433)
    const pg = yield* Effect.acquireRelease(openPglite(config.dataDir), (db) => Effect.promise(() => db.close()).pipe(Effect.ignore))
    const client = yield* embeddedClient(pg)
    // Migrate before serving: nobody else may run statements while the in-process transactions run.
    yield* Effect.provideService(migrateFromDir(), Db, client)
    return { client, pg, port }
  }).pipe(
    Effect.tap(({ pg, port }) =>
      Effect.acquireRelease(
        Effect.tryPromise({ try: () => serveWire(pg, port, "127.0.0.1"), catch: (cause) => new DbError({ cause }) }),
        (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
      ).pipe(Effect.tap(() => Effect.logInfo(`embedded TimescaleDB served on 127.0.0.1:${port}`)))
    ),
    Effect.map(({ client }) => client)
  )
)
