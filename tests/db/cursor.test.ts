import { describe, expect, it, layer } from "@effect/vitest"
import { Effect, Either, Layer, Logger, LogLevel } from "effect"
import { randomUUID } from "node:crypto"
import { readFileSync } from "node:fs"
import { AlertRows, applyPending } from "../../src/alerting/alertRows.ts"
import { advanceCursorStatement, cursorVersionStatement, CURSOR_MOVED, lockCursor, oneAtATime, versionOf } from "../../src/db/cursor.ts"
import { Db, queryInOrderAndCommit } from "../../src/db/Db.ts"
import type { DbClient, DbError } from "../../src/db/Db.ts"
import { makeEmbeddedThread } from "../../src/db/embedded.ts"
import { migrateFromDir } from "../../src/db/Migrator.ts"
import { makePgPool } from "../../src/db/pgPool.ts"
import { traced } from "../../src/db/traced.ts"
import { detectPending } from "../../src/detection/detectRows.ts"
import type { EvaluationMsg } from "../../src/domain/pipeline.ts"
import { decodeSettings } from "../../src/domain/settings.ts"
import { timescaleSkipReason, timescaleTestUrl } from "../support/timescaleServer.ts"
import { embeddedSeed } from "../support/harness.ts"

// The detect and alert stages read without a lock and write in a transaction that moves their tenant's
// cursor on from the version they read (src/db/cursor.ts, migrations/0018): so their writing
// transaction is one message to the embedded database's thread. These tests hold the protocol to what
// the lock gave: a writer that another overtook writes nothing and reads again, an acknowledgement
// overtakes the alert stage, and racing workers evaluate each window and take each evaluation once.

const migrated = <E, R>(client: Effect.Effect<DbClient, E, R>) =>
  Layer.scoped(Db, Effect.map(
    Effect.tap(client, (db) => Effect.provideService(migrateFromDir().pipe(Logger.withMinimumLogLevel(LogLevel.Warning)), Db, db)),
    // As the service runs it (src/db/Db.ts wraps the client in traced).
    traced
  ))

const settings = Either.getOrThrow(decodeSettings({}, JSON.parse(readFileSync(new URL("../../tenants/default.json", import.meta.url), "utf8")) as unknown))
const MIN = 60_000
const T0 = Date.UTC(2026, 11, 3, 0, 0)

const version = (tenantId: string, stage: string) => {
  const { text, values } = cursorVersionStatement(tenantId, stage)
  return Effect.flatMap(Db, (db) => db.query(text, values)).pipe(Effect.map(versionOf))
}

const insertWindows = (tenantId: string, series: number, windows: number) =>
  Effect.flatMap(Db, (db) => db.query(
    `INSERT INTO metric_windows (tenant_id, series_key, metric_name, service_name, operation, window_start, window_end, count, sum, min, max, mean, variance)
     SELECT $1, 'lat|s' || s || '|', 'lat', 's' || s, '', to_timestamp(($2::float8 + w * 60000) / 1000.0), to_timestamp(($2::float8 + (w + 1) * 60000) / 1000.0),
            10, 100 + w, 1, 20, 10 + (w % 3), 1
     FROM generate_series(1, $3::int) AS s, generate_series(0, $4::int - 1) AS w`,
    [tenantId, T0, series, windows]
  ))

// Each run's tenants are its own (the server's database outlives the run).
const run = randomUUID().slice(0, 8)

const suite = (where: string, db: Layer.Layer<Db, unknown>) => layer(db, { timeout: 120_000, excludeTestServices: true })(`the stages' cursor versions (${where})`, (it) => {
  it.effect("a write moves the cursor from the version read; one from an older version fails with 40001 and writes nothing", () =>
    Effect.gen(function* () {
      const db = yield* Db
      const tenant = `cursor-a-${run}`
      expect(yield* version(tenant, "detect")).toBe("0")
      const marker = (text: string) => ({ text: "INSERT INTO pending_evaluations (tenant_id, payload) VALUES ($1, $2::jsonb)", values: [tenant, JSON.stringify([text])] })
      yield* db.transaction((tx) => queryInOrderAndCommit(tx, [advanceCursorStatement(tenant, "detect", "0"), marker("first")]))
      expect(yield* version(tenant, "detect")).toBe("1")
      // A second writer that read version 0 too.
      const late = yield* db.transaction((tx) => queryInOrderAndCommit(tx, [advanceCursorStatement(tenant, "detect", "0"), marker("second")])).pipe(Effect.flip)
      expect((late as DbError).code).toBe(CURSOR_MOVED)
      const rows = yield* db.query<{ payload: unknown }>("SELECT payload FROM pending_evaluations WHERE tenant_id = $1", [tenant])
      expect(rows.map((r) => r.payload)).toEqual([["first"]])
      expect(yield* version(tenant, "detect")).toBe("1")
      // The stages' versions are apart: the alert cursor is still at 0.
      expect(yield* version(tenant, "alert")).toBe("0")
    }))

  it.effect("an acknowledgement's lock moves the alert cursor, so an alert pass that read before it reads again", () =>
    Effect.gen(function* () {
      const db = yield* Db
      const tenant = `cursor-b-${run}`
      const read = yield* version(tenant, "alert")
      yield* db.transaction((tx) => lockCursor(tx, tenant, "alert"))
      const moved = yield* db.transaction((tx) => queryInOrderAndCommit(tx, [advanceCursorStatement(tenant, "alert", read)])).pipe(Effect.flip)
      expect((moved as DbError).code).toBe(CURSOR_MOVED)
      const now = yield* version(tenant, "alert")
      yield* db.transaction((tx) => queryInOrderAndCommit(tx, [advanceCursorStatement(tenant, "alert", now)]))
      expect(Number(yield* version(tenant, "alert"))).toBe(Number(now) + 1)
    }))

  it.effect("eight detect passes at once (as of separate processes) evaluate every window exactly once (a pass another overtook reads again)", () =>
    Effect.gen(function* () {
      const db = yield* Db
      const tenant = `cursor-c-${run}`
      yield* insertWindows(tenant, 5, 40)
      const counts = yield* Effect.all(Array.from({ length: 8 }, () => detectPending(db, tenant, settings)), { concurrency: "unbounded" })
      expect(counts.reduce((a, b) => a + b, 0)).toBe(200)
      const left = yield* db.query<{ n: number }>("SELECT count(*)::int AS n FROM metric_windows WHERE tenant_id = $1 AND evaluated_at IS NULL", [tenant])
      expect(left[0]?.n).toBe(0)
      // Each series' detector state saw each of its 40 windows once.
      const states = yield* db.query<{ n: number }>("SELECT (state ->> 'n')::int AS n FROM detector_state WHERE tenant_id = $1", [tenant])
      expect(states.map((s) => s.n)).toEqual([40, 40, 40, 40, 40])
      // One pass wrote; the others found nothing left once they read again.
      expect(yield* version(tenant, "detect")).toBe("1")
      expect(counts.filter((n) => n > 0)).toEqual([200])
    }))

  it.effect("eight alert passes at once (as of separate processes) take each pending evaluation once and open one alert", () =>
    Effect.gen(function* () {
      const db = yield* Db
      const rows = yield* AlertRows
      const tenant = `cursor-d-${run}`
      const ev = (i: number): EvaluationMsg => ({
        metricName: "lat", serviceName: "api", operation: "", seriesKey: "lat|api|", rule: "anomaly", severity: i === 0 ? "none" : "critical",
        windowStartMs: T0 + i * MIN, windowEndMs: T0 + (i + 1) * MIN, value: 50, expected: 1, sd: 1, z: 49, threshold: null
      })
      for (let i = 0; i < 30; i++) yield* rows.addPending(tenant, [ev(i)])
      // The passes race (AlertRows.Live would give them turns: as passes of separate processes).
      const taken = yield* Effect.all(Array.from({ length: 8 }, () => applyPending(db, tenant, { cooldownMs: 3_600_000, resolveAfterWindows: 2 }, T0 + 40 * MIN)), { concurrency: "unbounded" })
      expect(taken.reduce((a, t) => a + t.taken, 0)).toBe(30)
      const pending = yield* db.query<{ n: number }>("SELECT count(*)::int AS n FROM pending_evaluations WHERE tenant_id = $1", [tenant])
      expect(pending[0]?.n).toBe(0)
      const alerts = yield* db.query<{ occurrences: number }>("SELECT occurrences FROM alerts WHERE tenant_id = $1", [tenant])
      // Opened by the first critical window, folded 28 times after it: each evaluation applied once.
      expect(alerts).toEqual([{ occurrences: 29 }])
    }).pipe(Effect.provide(AlertRows.Live.pipe(Layer.provide(Layer.effect(Db, Db))))))
})

suite("embedded database", migrated(makeEmbeddedThread("memory://", undefined, embeddedSeed())))

// On a TimescaleDB server the passes race on separate connections, with the cursor row's lock.
const skipReason = await timescaleSkipReason()
if (skipReason !== undefined) console.warn(`tests/db/cursor.test.ts: server part skipped: ${skipReason}`)
describe.skipIf(skipReason !== undefined)(`on a TimescaleDB server${skipReason === undefined ? "" : ` (skipped: ${skipReason})`}`, () => {
  suite("TimescaleDB server", migrated(makePgPool(timescaleTestUrl, 8)))
})

// The turns the stages take per tenant within a process (DetectStage, AlertRows.Live).
it.live("oneAtATime: effects with the same key take turns, other keys run beside them", () =>
  Effect.gen(function* () {
    const turn = oneAtATime()
    let inside = 0
    let most = 0
    const log: Array<string> = []
    const work = (key: string, i: number) => turn(key, Effect.gen(function* () {
      inside++
      most = Math.max(most, inside)
      log.push(`${key}${i}`)
      yield* Effect.sleep("5 millis")
      inside--
    }))
    yield* Effect.all([work("a", 1), work("a", 2), work("a", 3), work("b", 1)], { concurrency: "unbounded" })
    // b ran beside a's first; a's three one after another, in order.
    expect(most).toBe(2)
    expect(log.filter((x) => x.startsWith("a"))).toEqual(["a1", "a2", "a3"])
  }))
