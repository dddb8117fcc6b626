import { describe, expect, layer } from "@effect/vitest"
import { Context, Effect, Fiber, FiberRef, Layer } from "effect"
import type { DbClient, Queryable, Row } from "../../src/db/Db.ts"
import { makeEmbeddedThread } from "../../src/db/embedded.ts"
import { costing, DbCost, inLane } from "../../src/db/fairGate.ts"
import { CHUNK, dedupKeys, insertMetricPoints } from "../../src/ingest/persist.ts"

// The embedded database (on its own thread, as `npm start` runs it) shared fairly between tenants.
class TestDb extends Context.Tag("test/TestDb")<TestDb, DbClient>() {}

const points = (n: number) =>
  Array.from({ length: n }, (_, i) => ({ timeMs: 1_764_000_000_000 + i, name: `m${i % 7}`, value: i, serviceName: "svc", traceId: null, attributes: {} }))

const TABLE = `CREATE TABLE metric_points (
  tenant_id text NOT NULL, time timestamptz NOT NULL, name text NOT NULL, value double precision NOT NULL,
  service_name text NOT NULL DEFAULT '', trace_id text, attributes jsonb NOT NULL DEFAULT '{}'::jsonb, dedup_key bigint NOT NULL,
  PRIMARY KEY (tenant_id, name, time, dedup_key))`

/** Counts the statements (COPYs and INSERTs) and their declared costs (rows) as they pass. */
const counting = (db: Queryable, costs: Array<number>): Queryable => {
  const cost = Effect.flatMap(FiberRef.get(DbCost), (c) => Effect.sync(() => void costs.push(c)))
  const copy = db.copyFrom
  return {
    ...db,
    query: <R extends Row = Row>(text: string, values?: ReadonlyArray<unknown>) => Effect.zipRight(cost, db.query<R>(text, values)),
    ...(copy === undefined ? {} : { copyFrom: (table: string, columns: ReadonlyArray<string>, rows: Buffer) => Effect.zipRight(cost, copy(table, columns, rows)) })
  }
}

layer(Layer.scoped(TestDb, makeEmbeddedThread("memory://")), { timeout: 60_000 })("the embedded database between tenants", (it) => {
  describe("a large batch in bounded statements", () => {
    // No statement of one tenant holds the database for long, and each point is still stored exactly
    // once, however often the batch is run or wherever a delivery was cut off.
    it.effect("is stored exactly once: run twice, after a cut-off first chunk, and beside another tenant's batch", () =>
      Effect.gen(function* () {
        const db = yield* TestDb
        yield* db.exec(TABLE)
        const n = 2 * CHUNK + 37
        const batch = points(n)
        const keys = dedupKeys(batch, "native", "job-a")
        const costs: Array<number> = []
        yield* insertMetricPoints(db, "a", batch.slice(0, CHUNK), keys.slice(0, CHUNK)).pipe(inLane("a"))
        yield* Effect.all([
          insertMetricPoints(counting(db, costs), "a", batch, keys).pipe(inLane("a")),
          insertMetricPoints(db, "a", batch, keys).pipe(inLane("a")),
          insertMetricPoints(db, "b", points(3), dedupKeys(points(3), "native", "job-b")).pipe(inLane("b"))
        ], { concurrency: "unbounded" })
        const rows = yield* db.query<{ tenant_id: string; n: number; s: number }>(
          "SELECT tenant_id, count(*)::int AS n, sum(value)::float8 AS s FROM metric_points GROUP BY 1 ORDER BY 1")
        expect(rows).toEqual([{ tenant_id: "a", n, s: (n * (n - 1)) / 2 }, { tenant_id: "b", n: 3, s: 3 }])
        // Each chunk by COPY, and again by INSERT where it met stored rows (the first chunk, and whatever
        // the concurrent run stored first): every statement one chunk at most, declared as its rows.
        expect(new Set(costs)).toEqual(new Set([CHUNK, 37]))
        expect(costs.length).toBeGreaterThanOrEqual(3)
      }))
  })

  describe("lanes taking turns at the database thread", () => {
    it.effect("runs tenant B's statement after the one running, not after tenant A's queued statements", () =>
      Effect.gen(function* () {
        const db = yield* TestDb
        const done: Array<string> = []
        const stmt = (lane: string, name: string, rows: number) =>
          db.query("SELECT pg_sleep(0.2)").pipe(Effect.zipRight(Effect.sync(() => void done.push(name))), costing(rows), inLane(lane))
        // A fills the thread's places (and more wait at the gate), then B's one-row statement arrives.
        const a = yield* Effect.forEach(["a1", "a2", "a3", "a4", "a5", "a6"], (n) => Effect.fork(stmt("A", n, 500)))
        yield* Effect.yieldNow()
        const b = yield* Effect.fork(stmt("B", "b", 1))
        yield* Effect.forEach([...a, b], Fiber.join)
        // B is let through the gate when A's second statement is done, and runs next at the thread (after
        // a3 at the latest); in arrival order it would run last, with the fair gate alone after a4.
        expect(done.indexOf("b")).toBeLessThan(done.indexOf("a4"))
        expect(done.filter((n) => n !== "b")).toEqual(["a1", "a2", "a3", "a4", "a5", "a6"])
      }))
  })
})
