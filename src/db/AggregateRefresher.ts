import { Context, Duration, Effect, Layer, Schedule } from "effect"
import { AppConfig } from "../config/AppConfig.ts"
import { Db } from "./Db.ts"
import type { DbError } from "./Db.ts"

// Order matters: the hourly aggregate is built on the minutely one.
const AGGREGATES: ReadonlyArray<readonly [name: string, endOffset: string]> = [
  ["metric_points_1m", "1 minute"],
  ["span_red_1m", "1 minute"],
  ["metric_points_1h", "1 hour"]
]

export class AggregateRefresher extends Context.Tag("db/AggregateRefresher")<AggregateRefresher, {
  /** Materialises every continuous aggregate now (only the invalidated ranges are recomputed). */
  readonly refreshNow: Effect.Effect<void, DbError>
}>() {
  /**
   * Embedded mode: TimescaleDB's job scheduler does not run inside PGlite, so the service refreshes the
   * aggregates itself. Against a real server the policies from the migration do it, never both.
   */
  static readonly Live = Layer.scoped(
    AggregateRefresher,
    Effect.gen(function* () {
      const db = yield* Db
      const config = yield* AppConfig
      const refreshNow = Effect.forEach(AGGREGATES, ([name, end]) =>
        db.query(`CALL refresh_continuous_aggregate('${name}', NULL, now() - INTERVAL '${end}')`), { discard: true }
      ).pipe(Effect.withSpan("AggregateRefresher.refreshNow"))
      if (db.kind === "embedded") {
        yield* refreshNow.pipe(
          Effect.catchAllCause((cause) => Effect.logWarning("continuous aggregate refresh failed", cause)),
          Effect.repeat(Schedule.spaced(Duration.seconds(config.aggregateRefreshSeconds))),
          Effect.delay(Duration.seconds(config.aggregateRefreshSeconds)),
          Effect.forkScoped
        )
      }
      return { refreshNow }
    })
  )
}
