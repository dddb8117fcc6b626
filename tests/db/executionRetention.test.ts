import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Layer, Logger, LogLevel, Scope } from "effect"
import { randomBytes, randomUUID } from "node:crypto"
import { copyFileSync, mkdtempSync, readdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { AggregateRefresher } from "../../src/db/AggregateRefresher.ts"
import { Db } from "../../src/db/Db.ts"
import type { DbClient } from "../../src/db/Db.ts"
import { makeEmbedded } from "../../src/db/embedded.ts"
import { migrateFromDir } from "../../src/db/Migrator.ts"
import { makePgPool } from "../../src/db/pgPool.ts"
import type { SpanRow } from "../../src/domain/jobs.ts"
import { upsertSpanExecutions } from "../../src/ingest/persist.ts"
import { timescaleSkipReason, timescaleTestUrl } from "../support/timescaleServer.ts"

// Executions are kept 30 days and their trace claims (execution_traces) 33 days from the claim
// (migrations/0016_execution_retention.sql); in embedded mode AggregateRefresher.maintainNow runs both jobs.

const DAY = 86_400_000
const hex = (bytes: number) => randomBytes(bytes).toString("hex")
const quiet = Logger.withMinimumLogLevel(LogLevel.Warning)

const root = (traceId: string, startMs: number): SpanRow => ({
  traceId, spanId: hex(8), parentSpanId: null, name: "GET /checkout", kind: 2, statusCode: 0, statusMessage: null,
  startTimeMs: startMs, endTimeMs: startMs + 40, durationMs: 40, serviceName: "checkout", scopeName: null,
  resourceAttributes: { "service.name": "checkout" }, attributes: {}, events: [], links: []
})

const embedded = Layer.scoped(Db, makeEmbedded("memory://"))
const refresher = AggregateRefresher.Live.pipe(
  Layer.provideMerge(embedded),
  Layer.provide(AppConfig.layer.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["MPLP_AGGREGATE_REFRESH_SECONDS", "3600"]]))))))
)

const executionsOf = (db: DbClient, tenant: string) =>
  db.query<{ trace_id: string; span_id: string; source: string }>(
    "SELECT trace_id, span_id, source FROM executions WHERE tenant_id = $1 ORDER BY start_time", [tenant]
  )
const claimsOf = (db: DbClient, tenant: string) =>
  db.query<{ trace_id: string }>("SELECT trace_id FROM execution_traces WHERE tenant_id = $1 ORDER BY claimed_at", [tenant]).pipe(
    Effect.map((rows) => rows.map((r) => r.trace_id))
  )
const claimedAgo = (db: DbClient, tenant: string, traceId: string, days: number) =>
  db.query(`UPDATE execution_traces SET claimed_at = now() - make_interval(days => ${days}) WHERE tenant_id = $1 AND trace_id = $2`, [tenant, traceId])

describe("retention of executions and their trace claims (embedded, maintainNow)", () => {
  it.scoped("an execution and its claim past the retention go, recent ones stay, and a recent root of the pruned trace is an execution again", () =>
    Effect.gen(function* () {
      yield* migrateFromDir().pipe(quiet)
      const db = yield* Db
      const t = `retain-${randomUUID().slice(0, 8)}`
      const [old, recent, kept] = [hex(16), hex(16), hex(16)]
      const now = Date.now()
      yield* upsertSpanExecutions(db, t, [root(old, now - 40 * DAY), root(recent, now - 3_600_000), root(kept, now - 29 * DAY)])
      // As if claimed when they started: 40 days ago (past the claims' 33 days) and 32 days ago (not yet).
      yield* claimedAgo(db, t, old, 40)
      yield* claimedAgo(db, t, kept, 32)
      expect((yield* executionsOf(db, t)).map((e) => e.trace_id)).toEqual([old, kept, recent])
      expect(yield* (yield* AggregateRefresher).maintainNow).toEqual([])
      expect((yield* executionsOf(db, t)).map((e) => e.trace_id)).toEqual([kept, recent])
      expect(yield* claimsOf(db, t)).toEqual([kept, recent])
      // The trace id comes again with a root span of a recent time: its claim is new, so it is an execution again.
      const again = root(old, now - 60_000)
      yield* upsertSpanExecutions(db, t, [again, root(kept, now - 60_000)])
      expect(yield* executionsOf(db, t)).toEqual([
        { trace_id: kept, span_id: expect.any(String), source: "otlp" },
        { trace_id: recent, span_id: expect.any(String), source: "otlp" },
        { trace_id: old, span_id: again.spanId, source: "otlp" }
      ])
    }).pipe(Effect.provide(refresher))
  , 120_000)

  it.scoped("the pruning deletes only the claims past its cut-off (33 days unless configured), in committed batches of its batch size", () =>
    Effect.gen(function* () {
      yield* migrateFromDir().pipe(quiet)
      const db = yield* Db
      const t = `retain-${randomUUID().slice(0, 8)}`
      yield* db.query(
        `INSERT INTO execution_traces (tenant_id, trace_id, claimed_at)
         SELECT $1, 'trace-' || i, now() - make_interval(days => CASE WHEN i % 3 = 0 THEN 34 ELSE 32 END, secs => i)
         FROM generate_series(1, 3000) i`, [t]
      )
      const xid = db.query<{ x: string }>("SELECT txid_current()::text AS x").pipe(Effect.map((r) => Number(r[0]?.x)))
      const before = yield* xid
      yield* db.exec(`CALL prune_execution_traces(0, '{"batch_size": 100}')`)
      const after = yield* xid
      const left = yield* db.query<{ n: number; oldest: number }>(
        `SELECT count(*)::int AS n, (extract(epoch FROM now() - min(claimed_at)) / 86400)::float8 AS oldest FROM execution_traces WHERE tenant_id = $1`, [t]
      )
      expect(left[0]?.n).toBe(2000)
      expect(left[0]?.oldest).toBeLessThan(33)
      // 1000 claims in batches of at most 100, each its own transaction: at least 10 of them.
      expect(after - before).toBeGreaterThanOrEqual(11)
    }).pipe(Effect.provide(embedded))
  , 120_000)

  it.scoped("0016 applies to a database holding executions and claims: those claims count from the migration", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "mplp-mig-"))
      for (const f of readdirSync("migrations").filter((f) => /^\d{4}_.+\.sql$/.test(f) && f < "0016")) copyFileSync(join("migrations", f), join(dir, f))
      yield* migrateFromDir(dir).pipe(quiet)
      const db = yield* Db
      const t = `retain-${randomUUID().slice(0, 8)}`
      const [old, recent] = [hex(16), hex(16)]
      const now = Date.now()
      // As the code of 0015's time stored them: its claim named only the trace.
      for (const [trace, ms] of [[old, now - 40 * DAY], [recent, now - 3_600_000]] as const) {
        yield* db.query("INSERT INTO execution_traces (tenant_id, trace_id) VALUES ($1, $2)", [t, trace])
        yield* db.query(
          `INSERT INTO executions (tenant_id, trace_id, span_id, execution_id, operation_name, service_name, status, source, start_time, end_time, duration_ms, last_seq)
           VALUES ($1, $2, $3, $2, 'GET /checkout', 'checkout', 'completed', 'otlp', to_timestamp($4 / 1000.0), to_timestamp($4 / 1000.0 + 0.04), 40, 0)`,
          [t, trace, hex(8), ms]
        )
      }
      // 0016 and whatever came after it.
      expect((yield* migrateFromDir().pipe(quiet))[0]).toBe("0016_execution_retention.sql")
      // 0021 gave each claim its execution's start.
      const starts = yield* db.query<{ same: boolean }>(
        "SELECT c.start_time = x.start_time AS same FROM execution_traces c JOIN executions x USING (tenant_id, trace_id) WHERE c.tenant_id = $1", [t]
      )
      expect(starts.map((r) => r.same)).toEqual([true, true])
      const ages = yield* db.query<{ age: number }>("SELECT extract(epoch FROM now() - claimed_at)::float8 AS age FROM execution_traces WHERE tenant_id = $1", [t])
      expect(ages).toHaveLength(2)
      expect(ages.every((a) => a.age >= 0 && a.age < 600)).toBe(true)
      expect(yield* (yield* AggregateRefresher).maintainNow).toEqual([])
      // The old execution goes by the executions' retention; its claim, made (for the table) at the migration, stays 33 days more.
      expect((yield* executionsOf(db, t)).map((e) => e.trace_id)).toEqual([recent])
      expect(new Set(yield* claimsOf(db, t))).toEqual(new Set([old, recent]))
    }).pipe(Effect.provide(refresher))
  , 120_000)
})

const url = timescaleTestUrl
const skipReason = await timescaleSkipReason()
if (skipReason !== undefined) console.warn(`tests/db/executionRetention.test.ts: server part skipped: ${skipReason}`)

describe.skipIf(skipReason !== undefined)(`retention of executions and claims on a TimescaleDB server${skipReason === undefined ? "" : ` (skipped: ${skipReason})`}`, () => {
  let scope: Scope.CloseableScope
  let db: DbClient
  beforeAll(async () => {
    scope = Effect.runSync(Scope.make())
    db = await Effect.runPromise(Scope.extend(makePgPool(url, 2), scope))
    await Effect.runPromise(migrateFromDir().pipe(Effect.provideService(Db, db), quiet))
  }, 120_000)
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

  it("the scheduler holds both jobs, daily; the pruning runs there and deletes only old claims", async () => {
    const jobs = await Effect.runPromise(db.query<{ job_id: number; proc_name: string; hypertable_name: string | null; schedule_interval: string }>(
      `SELECT job_id, proc_name, hypertable_name, schedule_interval::text FROM timescaledb_information.jobs
       WHERE (proc_name = 'policy_retention' AND hypertable_name = 'executions') OR proc_name = 'prune_execution_traces' ORDER BY proc_name`
    ))
    expect(jobs.map((j) => [j.proc_name, j.schedule_interval])).toEqual([["policy_retention", "1 day"], ["prune_execution_traces", "1 day"]])
    const t = `retain-${randomUUID().slice(0, 8)}`
    const [old, recent] = [hex(16), hex(16)]
    await Effect.runPromise(db.query(
      "INSERT INTO execution_traces (tenant_id, trace_id, claimed_at) VALUES ($1, $2, now() - INTERVAL '40 days'), ($1, $3, now())", [t, old, recent]
    ))
    await Effect.runPromise(db.exec(`CALL run_job(${Number(jobs[1]?.job_id)})`))
    expect(await Effect.runPromise(claimsOf(db, t))).toEqual([recent])
  }, 60_000)
})
