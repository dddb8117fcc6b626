import { describe, expect, it } from "@effect/vitest"
import { inject } from "vitest"
import { ConfigProvider, Effect, Exit, Layer } from "effect"
import { randomUUID } from "node:crypto"
import { mkdtempSync, readdirSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import pg from "pg"
import { AggregateRefresher } from "../../src/db/AggregateRefresher.ts"
import { Db } from "../../src/db/Db.ts"
import { makeEmbedded } from "../../src/db/embedded.ts"
import { loadMigrations, migrate, migrateFromDir } from "../../src/db/Migrator.ts"
import { makePgPool } from "../../src/db/pgPool.ts"
import { AppConfig } from "../../src/config/AppConfig.ts"

const embedded = (dir = "memory://") => Layer.scoped(Db, makeEmbedded(dir))

describe("migrations on the embedded TimescaleDB", () => {
  it.scoped("create the hypertables and continuous aggregates, and a second run is a no-op", () =>
    Effect.gen(function* () {
      const first = yield* migrateFromDir()
      // Every file of migrations/, in name order.
      const files = readdirSync("migrations").filter((f) => /^\d{4}_.+\.sql$/.test(f)).sort()
      expect(files.slice(0, 4)).toEqual(["0001_init.sql", "0002_pipeline_state.sql", "0003_query_indexes.sql", "0004_trace_probe.sql"])
      expect(first).toEqual(files)
      const db = yield* Db
      const hypertables = (yield* db.query<{ hypertable_name: string }>(
        "SELECT hypertable_name FROM timescaledb_information.hypertables WHERE hypertable_schema = 'public' ORDER BY 1"
      )).map((r) => r.hypertable_name)
      expect(hypertables).toEqual(
        expect.arrayContaining(["alert_deliveries", "anomalies", "execution_events", "executions", "metric_points", "metric_windows", "spans"])
      )
      const caggs = (yield* db.query<{ view_name: string; materialized_only: boolean }>(
        "SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates ORDER BY 1"
      ))
      expect(caggs.map((c) => c.view_name)).toEqual(["genai_usage_1h", "metric_points_1h", "metric_points_1m", "spans_1m"])
      expect(caggs.every((c) => c.materialized_only === false)).toBe(true)
      const jobs = (yield* db.query<{ proc_name: string }>("SELECT proc_name FROM timescaledb_information.jobs")).map((j) => j.proc_name)
      expect(jobs).toEqual(expect.arrayContaining(["policy_refresh_continuous_aggregate", "policy_compression", "policy_retention"]))
      const second = yield* migrateFromDir()
      expect(second).toEqual([])
    }).pipe(Effect.provide(embedded()))
  )

  it.scoped("refuses to run when an applied migration was edited", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "mplp-mig-"))
      writeFileSync(join(dir, "0001_a.sql"), "CREATE TABLE a (id int);")
      expect(yield* migrateFromDir(dir)).toEqual(["0001_a.sql"])
      writeFileSync(join(dir, "0001_a.sql"), "CREATE TABLE a (id bigint);")
      writeFileSync(join(dir, "0002_b.sql"), "CREATE TABLE b (id int);")
      const exit = yield* Effect.exit(migrateFromDir(dir))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(String(exit)).toMatch(/0001_a\.sql was edited after it was applied/)
      // nothing after the edited one ran either
      const db = yield* Db
      expect(yield* db.query("SELECT 1 FROM pg_tables WHERE tablename = 'b'")).toHaveLength(0)
    }).pipe(Effect.provide(embedded()))
  )

  it.scoped("rolls a failing migration back whole and records nothing", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "mplp-mig-"))
      writeFileSync(join(dir, "0001_bad.sql"), "CREATE TABLE c (id int); SELECT no_such_function();")
      const exit = yield* Effect.exit(migrateFromDir(dir))
      expect(String(exit)).toMatch(/migration 0001_bad\.sql failed/)
      const db = yield* Db
      expect(yield* db.query("SELECT 1 FROM pg_tables WHERE tablename = 'c'")).toHaveLength(0)
      expect(yield* db.query("SELECT 1 FROM mplp_migrations")).toHaveLength(0)
    }).pipe(Effect.provide(embedded()))
  )

  // Live: the retry waits on the real clock.
  for (const [race, raise] of [
    ["a catalog row (tuple concurrently deleted)", "RAISE EXCEPTION 'tuple concurrently deleted'"],
    ["a deadlock (40P01)", "RAISE EXCEPTION 'deadlock detected' USING ERRCODE = 'deadlock_detected'"]
  ] as const) {
    it.live(`runs a migration again that met TimescaleDB's scheduler on ${race}, once`, () =>
      Effect.gen(function* () {
        const dir = mkdtempSync(join(tmpdir(), "mplp-mig-"))
        // A sequence is not rolled back with the transaction: the first run of 0002 fails as the scheduler's race does, the second passes.
        writeFileSync(join(dir, "0001_seq.sql"), "CREATE SEQUENCE attempts;")
        writeFileSync(join(dir, "0002_raced.sql"), `CREATE TABLE d (id int); INSERT INTO d VALUES (1);
          DO $$ BEGIN IF nextval('attempts') = 1 THEN ${raise}; END IF; END $$;`)
        expect(yield* migrateFromDir(dir)).toEqual(["0001_seq.sql", "0002_raced.sql"])
        const db = yield* Db
        expect(yield* db.query<{ n: number }>("SELECT count(*)::int AS n FROM d")).toEqual([{ n: 1 }])
        expect(yield* db.query<{ n: number }>("SELECT last_value::int AS n FROM attempts")).toEqual([{ n: 2 }])
      }).pipe(Effect.provide(embedded()))
    )
  }

  it.live("keeps written data across a restart of the embedded database", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "mplp-data-"))
      const write = Effect.gen(function* () {
        yield* migrateFromDir()
        const db = yield* Db
        yield* db.query("INSERT INTO tenants (id, name) VALUES ('persisted', 'P')")
        yield* db.query(
          "INSERT INTO metric_points (tenant_id, time, name, value, dedup_key) VALUES ('persisted', now(), 'cpu', 42, 1)"
        )
      })
      yield* Effect.scoped(Effect.provide(write, embedded(dir)))
      const read = Effect.gen(function* () {
        expect(yield* migrateFromDir()).toEqual([])
        const db = yield* Db
        const before = yield* db.query<{ value: number }>("SELECT value FROM metric_points WHERE tenant_id = 'persisted'")
        // and the reopened database takes writes into hypertables with continuous aggregates
        yield* db.query("INSERT INTO metric_points (tenant_id, time, name, value, dedup_key) VALUES ('persisted', now(), 'cpu', 43, 2)")
        return before
      })
      const rows = yield* Effect.scoped(Effect.provide(read, embedded(dir)))
      expect(rows.map((r) => r.value)).toEqual([42])
      const again = yield* Effect.scoped(Effect.provide(Effect.flatMap(Db, (db) => db.query<{ n: number }>("SELECT count(*)::int AS n FROM metric_points")), embedded(dir)))
      expect(again).toEqual([{ n: 2 }])
    })
  )

  it.scoped("a refresh materialises inserted points in the 1-minute aggregate with exact count/sum/min/max", () =>
    Effect.gen(function* () {
      yield* migrateFromDir()
      const db = yield* Db
      const base = Math.floor(Date.now() / 60_000) * 60_000 - 10 * 60_000 // ten whole minutes ago
      const values = [3, 9, 1, 7.5, 4]
      yield* db.query(
        `INSERT INTO metric_points (tenant_id, time, name, value, service_name, dedup_key)
         SELECT 'agg', to_timestamp(t / 1000.0), 'latency', v, 'svc', k
         FROM unnest($1::float8[], $2::float8[], $3::int8[]) AS u(t, v, k)`,
        [values.map((_, i) => base + i * 1000), values, values.map((_, i) => i)]
      )
      // the materialisation watermark, in microseconds since the epoch
      const watermark = db.query<{ w: number }>(
        `SELECT _timescaledb_functions.cagg_watermark(mat_hypertable_id)::float8 AS w
         FROM _timescaledb_catalog.continuous_agg WHERE user_view_name = 'metric_points_1m'`
      ).pipe(Effect.map((r) => r[0]?.w ?? Number.NaN))
      const before = yield* watermark
      expect(before).toBeLessThan(base * 1000)
      const refresher = yield* AggregateRefresher
      yield* refresher.refreshNow
      expect(yield* watermark).toBeGreaterThan(base * 1000)
      const rows = yield* db.query<{ count: number; sum: number; min: number; max: number }>(
        "SELECT count::int, sum, min, max FROM metric_points_1m WHERE tenant_id = 'agg' AND name = 'latency'"
      )
      expect(rows).toEqual([{ count: 5, sum: 24.5, min: 1, max: 9 }])
      const hourly = yield* db.query<{ count: number; sum: number }>(
        "SELECT count::int, sum FROM metric_points_1h WHERE tenant_id = 'agg' AND name = 'latency'"
      )
      expect(hourly).toEqual([{ count: 5, sum: 24.5 }])
    }).pipe(
      Effect.provide(AggregateRefresher.Live),
      Effect.provide(embedded()),
      Effect.provide(AppConfig.layer.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["MPLP_AGGREGATE_REFRESH_SECONDS", "3600"]]))))))
    )
  )
})

describe("an in-memory database started from a seed (MPLP_EMBEDDED_SEED)", () => {
  const live = (vars: Record<string, string>) =>
    Db.Live.pipe(Layer.provide(AppConfig.layer.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(vars))))))))
  const seeded = () => live({ MPLP_DATA_DIR: "memory://", MPLP_EMBEDDED_SEED: inject("embeddedSeed") })

  it.scoped("starts migrated, stores into its hypertables, and keeps its writes to itself", () =>
    Effect.gen(function* () {
      const tenant = `seed-${randomUUID().slice(0, 8)}`
      const insert = (db: Db["Type"]) =>
        db.query("INSERT INTO metric_points (tenant_id, time, name, value, dedup_key) VALUES ($1, now(), 'm', 1, 1)", [tenant])
      const count = (db: Db["Type"]) =>
        db.query<{ n: number }>("SELECT count(*)::int AS n FROM metric_points WHERE tenant_id = $1", [tenant]).pipe(Effect.map((r) => r[0]?.n))
      const first = yield* Effect.provide(Effect.gen(function* () {
        // Every migration is in the seed already: none runs again.
        expect(yield* migrateFromDir()).toEqual([])
        const db = yield* Db
        yield* insert(db)
        return yield* count(db)
      }), seeded())
      expect(first).toBe(1)
      // Another database from the same seed starts as the seed did, without the first one's row.
      expect(yield* Effect.provide(Effect.flatMap(Db, count), seeded())).toBe(0)
    })
  )

  it("refuses a seed that does not exist, naming the variable", async () => {
    const exit = await Effect.runPromiseExit(Effect.scoped(Layer.build(live({ MPLP_DATA_DIR: "memory://", MPLP_EMBEDDED_SEED: "/nonexistent/seed.tar" }))))
    expect(Exit.isFailure(exit)).toBe(true)
    expect(String(exit)).toMatch(/MPLP_EMBEDDED_SEED.*\/nonexistent\/seed\.tar does not exist/s)
  })
})

describe("embedded maintenance (no job scheduler, no autovacuum inside PGlite)", () => {
  it.scoped("applies the retention policies of the migrations and gives the planner statistics", () =>
    Effect.gen(function* () {
      const db = yield* Db
      yield* migrateFromDir()
      yield* db.query(
        `INSERT INTO metric_points (tenant_id, time, name, value, dedup_key)
         VALUES ('old', now() - INTERVAL '45 days', 'x', 1, 1), ('old', now() - INTERVAL '1 hour', 'x', 2, 2)`
      )
      yield* db.query(
        `INSERT INTO spans (tenant_id, trace_id, span_id, name, kind, status_code, service_name, start_time, end_time, duration_ms)
         SELECT 'old', md5(i::text), 'span' || i, 'op', 1, 0, 'svc', t, t, 1
         FROM generate_series(1, 200) i, LATERAL (SELECT now() - make_interval(days => 40 - (i % 2) * 39)) AS a(t)`
      )
      const analysed = db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stats WHERE tablename LIKE '%chunk' AND attname = 'trace_id'")
      expect((yield* analysed)[0]?.n).toBe(0)
      const failed = yield* (yield* AggregateRefresher).maintainNow
      expect(failed).toEqual([])
      // 30 days of raw points and spans: the 45- and 40-day-old rows are gone, the recent ones stay.
      expect(yield* db.query("SELECT value FROM metric_points WHERE tenant_id = 'old'")).toEqual([{ value: 2 }])
      expect((yield* db.query<{ n: number }>("SELECT count(*)::int AS n FROM spans WHERE tenant_id = 'old'"))[0]?.n).toBe(100)
      expect((yield* analysed)[0]?.n).toBeGreaterThan(0)
    }).pipe(
      Effect.provide(AggregateRefresher.Live),
      Effect.provide(embedded()),
      Effect.provide(AppConfig.layer.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["MPLP_AGGREGATE_REFRESH_SECONDS", "3600"]]))))))
    )
  )
})

describe("migrations against a real PostgreSQL server", () => {
  // The machine's PostgreSQL has no TimescaleDB, so this runs plain-SQL migrations: it shows the
  // advisory lock and the per-migration transactions of the pg driver path, not the schema.
  it.live("two processes migrating at once apply every migration exactly once", () =>
    Effect.gen(function* () {
      const schema = `mig_${randomUUID().replace(/-/g, "").slice(0, 10)}`
      const admin = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/test" })
      yield* Effect.promise(() => admin.connect())
      yield* Effect.promise(() => admin.query(`CREATE SCHEMA ${schema}`))
      const dir = mkdtempSync(join(tmpdir(), "mplp-mig-"))
      writeFileSync(join(dir, "0001_a.sql"), "CREATE TABLE a (id int); SELECT pg_sleep(0.2);")
      writeFileSync(join(dir, "0002_b.sql"), "CREATE TABLE b (id int); INSERT INTO b VALUES (1);")
      const migrations = yield* loadMigrations(dir)
      const url = `postgres://postgres@127.0.0.1:5432/test?options=-c%20search_path%3D${schema}`
      const one = Effect.scoped(Effect.flatMap(makePgPool(url, 2), (client) => Effect.provideService(migrate(migrations), Db, client)))
      const [x, y] = yield* Effect.all([one, one], { concurrency: 2 })
      expect([...x, ...y].sort()).toEqual(["0001_a.sql", "0002_b.sql"])
      const rows = yield* Effect.promise(() => admin.query(`SELECT count(*)::int AS n FROM ${schema}.b`))
      expect(rows.rows[0]).toEqual({ n: 1 })
      yield* Effect.promise(() => admin.query(`DROP SCHEMA ${schema} CASCADE`))
      yield* Effect.promise(() => admin.end())
    })
  )
})
