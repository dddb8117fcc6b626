import { Layer } from "effect"
import { AggregateRefresher } from "../src/db/AggregateRefresher.ts"
import { EmbeddedServer } from "../src/db/EmbeddedServer.ts"
import { runLayer } from "../src/main.ts"

// The embedded TimescaleDB for a multi-process deployment without a database server:
// `MPLP_EMBEDDED_DB_PORT=5433 tsx workers/db.ts`, then every API and worker process with
// DATABASE_URL=postgres://127.0.0.1:5433/postgres MPLP_DB_POOL_MAX=1 MPLP_DB_IDLE_MS=5.
runLayer(AggregateRefresher.Live.pipe(Layer.provide(EmbeddedServer)))
