import { Context, Duration, Effect, Layer } from "effect"
import { AppConfig } from "../config/AppConfig.ts"
import { sweep } from "../queues/sweep.ts"
import { Db } from "./Db.ts"
import type { DbError } from "./Db.ts"

// Order matters: metric_points_1h is built on metric_points_1m (genai_usage_1h, on spans, since 0012).
// spans_1m holds span_red_1m and genai_usage_1m, views over it since 0013.
const AGGREGATES: ReadonlyArray<readonly [name: string, endOffset: string]> = [
  ["metric_points_1m", "1 minute"],
  ["spans_1m", "1 minute"],
  ["metric_points_1h", "1 hour"],
  ["genai_usage_1h", "1 hour"]
]

/** Small tables rewritten all the time (queues of work, cursors, state): vacuumed, as autovacuum would. */
const CHURNING = ["pending_evaluations", "alert_notifications", "alert_policy_state", "pipeline_cursor", "tenants", "api_keys"]

/** The policy jobs of the migrations, and the actions they add with add_job. */
const JOBS = ["policy_retention", "policy_compression", "prune_execution_traces"]

const MAINTENANCE_EVERY = Duration.minutes(10)

export class AggregateRefresher extends Context.Tag("db/AggregateRefresher")<AggregateRefresher, {
  /** Materialises every continuous aggregate now (only the invalidated ranges are recomputed). */
  readonly refreshNow: Effect.Effect<void, DbError>
  /**
   * Embedded mode's stand-in for TimescaleDB's job scheduler and PostgreSQL's autovacuum, neither of
   * which runs inside PGlite: the retention and compression policies of the migrations and their
   * pruning of the trace claims (0016), statistics for the planner, and dead rows of the churning
   * tables. Returns the jobs that failed.
   */
  readonly maintainNow: Effect.Effect<ReadonlyArray<string>, DbError>
}>() {
  /**
   * Embedded mode: the service refreshes the aggregates itself (every MPLP_AGGREGATE_REFRESH_SECONDS)
   * and runs the maintenance every 10 minutes. Against a real server the policies from the migration
   * and autovacuum do it, never both.
   */
  static readonly Live = Layer.scoped(
    AggregateRefresher,
    Effect.gen(function* () {
      const db = yield* Db
      const config = yield* AppConfig
      const refreshNow = Effect.forEach(AGGREGATES, ([name, end]) =>
        db.query(`CALL refresh_continuous_aggregate('${name}', NULL, now() - INTERVAL '${end}')`), { discard: true }
      ).pipe(Effect.withSpan("AggregateRefresher.refreshNow"))
      const maintainNow = Effect.gen(function* () {
        const jobs = yield* db.query<{ job_id: number; proc_name: string; hypertable_name: string | null }>(
          `SELECT job_id, proc_name, hypertable_name FROM timescaledb_information.jobs
           WHERE proc_name IN (${JOBS.map((j) => `'${j}'`).join(", ")}) ORDER BY job_id`
        )
        const failed: Array<string> = []
        // One job at a time, each its own statement: ingest goes on between them.
        for (const j of jobs) {
          const job = j.hypertable_name === null ? j.proc_name : `${j.proc_name} on ${j.hypertable_name}`
          yield* db.query(`CALL run_job(${Number(j.job_id)})`).pipe(
            Effect.catchAll((e) =>
              Effect.zipRight(
                Effect.sync(() => failed.push(job)),
                Effect.logWarning(`${job} failed: ${e.message}`)
              )
            )
          )
        }
        // ANALYZE samples a bounded number of rows per table, one table per statement so that ingest's
        // statements get their turns between them (the whole database at once held it for seconds);
        // VACUUM only the small churning tables.
        const tables = yield* db.query<{ name: string }>(
          `SELECT quote_ident(table_name) AS name FROM information_schema.tables
           WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`
        )
        for (const t of tables) yield* db.exec(`ANALYZE ${t.name}`)
        yield* db.exec(`VACUUM ${CHURNING.join(", ")}`)
        // The trace claims, which prune_execution_traces deletes (migrations/0016): their space used again
        // and their new block ranges summarised for its BRIN index. Large, so a statement of its own; the
        // pages nothing changed since the last vacuum are skipped.
        yield* db.exec("VACUUM execution_traces")
        return failed
      }).pipe(Effect.withSpan("AggregateRefresher.maintainNow"))
      if (db.kind === "embedded") {
        // Traced: a round every MPLP_AGGREGATE_REFRESH_SECONDS at most, and its duration is what an operator of the embedded database watches.
        yield* sweep("continuous aggregate refresh", Duration.seconds(config.aggregateRefreshSeconds), refreshNow, { delayFirst: true, traced: true })
        yield* sweep("database maintenance", MAINTENANCE_EVERY, maintainNow, { delayFirst: true, traced: true })
      }
      return { refreshNow, maintainNow }
    })
  )
}
