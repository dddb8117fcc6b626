import { Effect, Layer, Option } from "effect"
import { randomBytes } from "node:crypto"
import { readFile, writeFile } from "node:fs/promises"
import { AppConfig } from "../config/AppConfig.ts"
import { Db, DbError } from "./Db.ts"
import { embeddedClient, openPglite } from "./embedded.ts"
import { migrateFromDir } from "./Migrator.ts"
import { passwordFile } from "./wireAuth.ts"
import { serveWire } from "./wireServer.ts"

/**
 * The embedded TimescaleDB shared by several processes: this process owns the PGlite instance and
 * serves it over the PostgreSQL wire protocol (one client connection at a time, the others queue).
 * Every other process connects with DATABASE_URL=postgres://127.0.0.1:<port>/postgres,
 * MPLP_DB_POOL_MAX=1 and a small MPLP_DB_IDLE_MS, so a connection is handed on as soon as it idles.
 * In-process this layer only migrates (before serving) and refreshes aggregates (single statements),
 * never a multi-statement transaction that a served client could interleave with.
 *
 * Clients sign in with the password kept in `<MPLP_DATA_DIR>/wire-password` (generated on first
 * start, readable by its owner only): `postgres://postgres:<password>@127.0.0.1:<port>/postgres`.
 */

const readOrCreatePassword = (file: string) =>
  Effect.tryPromise({
    try: async () => {
      try {
        await writeFile(file, randomBytes(24).toString("base64url"), { flag: "wx", mode: 0o600 })
      } catch (e) {
        if (!(e instanceof Error && "code" in e && e.code === "EEXIST")) throw e
      }
      const password = (await readFile(file, "utf8")).trim()
      if (password.length < 16) throw new Error(`${file} holds no usable password (16 characters or more)`)
      return password
    },
    catch: (cause) => new DbError({ cause })
  })

export const EmbeddedServer = Layer.scoped(
  Db,
  Effect.gen(function* () {
    const config = yield* AppConfig
    const port = Option.getOrElse(config.embeddedDbPort, () => 5433)
    if (config.dataDir.startsWith("memory://")) {
      return yield* Effect.dieMessage("workers/db.ts needs a data folder (MPLP_DATA_DIR) to keep the database and its password in")
    }
    const pg = yield* Effect.acquireRelease(openPglite(config.dataDir), (db) => Effect.promise(() => db.close()).pipe(Effect.ignore))
    const password = yield* readOrCreatePassword(passwordFile(config.dataDir))
    const client = yield* embeddedClient(pg)
    // Migrate before serving: nobody else may run statements while the in-process transactions run.
    yield* Effect.provideService(migrateFromDir(), Db, client)
    return { client, pg, port, password, dataDir: config.dataDir }
  }).pipe(
    Effect.tap(({ pg, port, password, dataDir }) =>
      Effect.acquireRelease(
        Effect.tryPromise({ try: () => serveWire(pg, port, "127.0.0.1", password), catch: (cause) => new DbError({ cause }) }),
        (server) => Effect.async<void>((resume) => void server.close(() => resume(Effect.void)))
      ).pipe(Effect.tap(() => Effect.logInfo(`embedded TimescaleDB served on 127.0.0.1:${port}; its password is in ${passwordFile(dataDir)}`)))
    ),
    Effect.map(({ client }) => client)
  )
)
