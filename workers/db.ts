import { parseArgs } from "node:util"
import { argsOrUsage } from "../src/config/cliArgs.ts"

// The embedded TimescaleDB for a multi-process deployment without a database server:
// `MPLP_EMBEDDED_DB_PORT=5433 tsx workers/db.ts`, then every API and worker process with
// DATABASE_URL=postgres://postgres:<password>@127.0.0.1:5433/postgres MPLP_DB_POOL_MAX=1 MPLP_DB_IDLE_MS=5,
// the password being the one this process keeps in $MPLP_DATA_DIR/wire-password.
argsOrUsage("usage: db.ts (no arguments; MPLP_EMBEDDED_DB_PORT and MPLP_DATA_DIR configure it)", () => parseArgs({ options: {}, strict: true, allowPositionals: false }))
const { Layer } = await import("effect")
const { AggregateRefresher } = await import("../src/db/AggregateRefresher.ts")
const { EmbeddedServer } = await import("../src/db/EmbeddedServer.ts")
const { runLayer } = await import("../src/main.ts")
runLayer(AggregateRefresher.Live.pipe(Layer.provide(EmbeddedServer)))
