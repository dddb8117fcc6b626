import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import type { Worker } from "node:worker_threads"
import { queryInOrder, queryInOrderAndCommit } from "../../src/db/Db.ts"
import { traced } from "../../src/db/traced.ts"
import { makeEmbeddedThread } from "../../src/db/embedded.ts"
import { inLane } from "../../src/db/fairGate.ts"

// The default database of `npm start` and of the tests: the embedded TimescaleDB on its own thread.
describe("the embedded database on its own thread", () => {
  it.scoped("returns values as the in-process driver does, and errors with their SQLSTATE", () =>
    Effect.gen(function* () {
      const db = yield* makeEmbeddedThread("memory://")
      const [row] = yield* db.query<{ t: Date; n: number; j: unknown; a: Array<number>; s: string }>(
        "SELECT to_timestamp(1764000000) AS t, 9007199254740::int8 AS n, '{\"a\":[1,null]}'::jsonb AS j, ARRAY[1.5, 2]::float8[] AS a, $1::text AS s",
        ["ünïcode"]
      )
      expect(row?.t).toEqual(new Date(1764000000 * 1000))
      expect(row?.n).toBe(9007199254740)
      expect(row?.j).toEqual({ a: [1, null] })
      expect(row?.a).toEqual([1.5, 2])
      expect(row?.s).toBe("ünïcode")
      yield* db.exec("CREATE TABLE t (k int PRIMARY KEY, v text); CREATE TABLE u (k int)")
      yield* db.query("INSERT INTO t SELECT * FROM unnest($1::int[], $2::text[])", [[1, 2], ["a", "b"]])
      const dup = yield* Effect.flip(db.query("INSERT INTO t VALUES (1, 'again')"))
      expect(dup._tag).toBe("DbError")
      expect(dup.code).toBe("23505")
      expect(dup.message).toContain("duplicate key")
    })
  )

  it.scoped("keeps a transaction's statements together and rolls a failed one back", () =>
    Effect.gen(function* () {
      const db = yield* makeEmbeddedThread("memory://")
      yield* db.exec("CREATE TABLE t (k int PRIMARY KEY)")
      const inside = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const tx = yield* db.transaction((q) =>
        q.query("INSERT INTO t VALUES (1)").pipe(
          Effect.zipRight(Deferred.succeed(inside, undefined)),
          Effect.zipRight(Deferred.await(release)),
          Effect.zipRight(q.query("INSERT INTO t VALUES (2)"))
        )
      ).pipe(Effect.fork)
      yield* Deferred.await(inside)
      // Another fiber's statement waits for the transaction: it never runs inside it.
      const other = yield* db.query<{ n: number }>("SELECT count(*)::int AS n FROM t").pipe(Effect.fork)
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(tx)
      expect((yield* Fiber.join(other))[0]?.n).toBe(2)
      const failed = yield* Effect.either(db.transaction((q) => q.query("INSERT INTO t VALUES (3)").pipe(Effect.zipRight(q.query("INSERT INTO t VALUES (1)")))))
      expect(failed._tag).toBe("Left")
      expect((yield* db.query<{ n: number }>("SELECT count(*)::int AS n FROM t"))[0]?.n).toBe(2)
    })
  )

  it.scopedLive("runs a transaction in its turn while other fibers keep statements queued", () =>
    Effect.gen(function* () {
      const db = yield* makeEmbeddedThread("memory://")
      yield* db.exec("CREATE TABLE t (k int PRIMARY KEY); CREATE TABLE log (n serial, who text)")
      let stop = false
      const stream = yield* Effect.forEach(
        Array.from({ length: 12 }, (_, i) => i),
        (i) => Effect.whileLoop({ while: () => !stop, body: () => db.query("INSERT INTO log (who) VALUES ($1)", [`s${i}`]), step: () => {} }),
        { concurrency: "unbounded", discard: true }
      ).pipe(Effect.fork)
      yield* Effect.sleep("200 millis")
      // Inside the transaction no other statement lands: the log grows only between its statements' turns.
      const [before, after] = yield* db.transaction((q) =>
        Effect.gen(function* () {
          const a = yield* q.query<{ n: number }>("SELECT count(*)::int AS n FROM log")
          yield* Effect.sleep("100 millis")
          yield* q.query("INSERT INTO t VALUES (1)")
          const b = yield* q.query<{ n: number }>("SELECT count(*)::int AS n FROM log")
          return [a[0]?.n, b[0]?.n] as const
        })
      )
      stop = true
      yield* Fiber.join(stream)
      expect(before).toBeGreaterThan(0)
      expect(after).toBe(before)
      expect((yield* db.query<{ n: number }>("SELECT count(*)::int AS n FROM log"))[0]?.n).toBeGreaterThan(after ?? 0)
    })
  )

  it.scopedLive("runs the statements queued behind a transaction as soon as it ends, while this thread is still busy", () =>
    Effect.gen(function* () {
      const db = yield* makeEmbeddedThread("memory://")
      yield* db.exec("CREATE TABLE t (k int PRIMARY KEY); CREATE TABLE log (who text, at timestamptz)")
      const inside = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      let busyUntil = 0
      const tx = yield* db.transaction((q) =>
        Effect.gen(function* () {
          yield* q.query("INSERT INTO t VALUES (1)")
          yield* Deferred.succeed(inside, undefined)
          yield* Deferred.await(release)
          yield* q.query("INSERT INTO t VALUES (2)")
          // Once its COMMIT is on its way, this thread is busy for 400 ms (a loaded event loop).
          setImmediate(() => {
            const until = Date.now() + 400
            while (Date.now() < until);
            busyUntil = Date.now()
          })
        })
      ).pipe(Effect.fork)
      yield* Deferred.await(inside)
      // Another tenant's statement, waiting for the transaction.
      const other = yield* db.query("INSERT INTO log VALUES ('other', clock_timestamp())").pipe(Effect.fork)
      yield* Effect.sleep("100 millis")
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(tx)
      yield* Fiber.join(other)
      const [row] = yield* db.query<{ at: Date; n: number }>("SELECT at, (SELECT count(*)::int FROM t) AS n FROM log")
      expect(row?.n).toBe(2)
      // It ran during the busy spell: the database thread did not wait to be told the transaction ended.
      expect(busyUntil).toBeGreaterThan(0)
      expect(row!.at.getTime()).toBeLessThan(busyUntil - 100)
    })
  )

  it.scopedLive("after a transaction, every lane waiting with a statement has its turn before the next transaction", () =>
    Effect.gen(function* () {
      const db = yield* makeEmbeddedThread("memory://")
      yield* db.exec("CREATE TABLE log (n serial, who text)")
      const inside = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const first = yield* db.transaction((q) =>
        q.query("INSERT INTO log (who) VALUES ('tx x')").pipe(
          Effect.zipRight(Deferred.succeed(inside, undefined)),
          Effect.zipRight(Deferred.await(release))
        )).pipe(inLane("x"), Effect.fork)
      yield* Deferred.await(inside)
      // Tenant y's transaction reaches the thread first, tenant z's one-row insert after it.
      const second = yield* db.transaction((q) => q.query("INSERT INTO log (who) VALUES ('tx y')")).pipe(inLane("y"), Effect.fork)
      yield* Effect.sleep("100 millis")
      const single = yield* db.query("INSERT INTO log (who) VALUES ('z')").pipe(inLane("z"), Effect.fork)
      yield* Effect.sleep("100 millis")
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(first)
      yield* Fiber.join(second)
      yield* Fiber.join(single)
      const order = yield* db.query<{ who: string }>("SELECT who FROM log ORDER BY n")
      expect(order.map((r) => r.who)).toEqual(["tx x", "z", "tx y"])
    })
  )

  it.scoped("sends a transaction's statements together in order, and rolls them all back when one fails", () =>
    Effect.gen(function* () {
      const db = yield* makeEmbeddedThread("memory://")
      yield* db.exec("CREATE TABLE t (k int PRIMARY KEY)")
      const out = yield* db.transaction((q) =>
        queryInOrder(q, [
          { text: "INSERT INTO t VALUES (1), (2)" },
          { text: "SELECT count(*)::int AS n FROM t" },
          { text: "INSERT INTO t SELECT $1::int + k FROM t RETURNING k", values: [10] }
        ]))
      expect(out).toEqual([[], [{ n: 2 }], [{ k: 11 }, { k: 12 }]])
      const failed = yield* Effect.either(db.transaction((q) =>
        queryInOrder(q, [{ text: "INSERT INTO t VALUES (3)" }, { text: "INSERT INTO t VALUES (1)" }, { text: "INSERT INTO t VALUES (4)" }])))
      expect(failed._tag === "Left" && failed.left.message).toContain("duplicate key")
      // Rolled back whole, and the database goes on (no statement of it left waiting at the thread).
      expect(yield* db.query<{ k: number }>("SELECT k FROM t ORDER BY k")).toEqual([{ k: 1 }, { k: 2 }, { k: 11 }, { k: 12 }])
    })
  )

  it.scoped("commits a transaction with its last statements (no COMMIT of its own), rolls it all back when one fails, and goes on", () =>
    Effect.gen(function* () {
      // What this thread posts to the database thread, and how many answers it had heard back by then.
      const posted: Array<{ sql: string; answered: number; commit: boolean }> = []
      let answered = 0
      const db = traced(yield* makeEmbeddedThread("memory://", (w) => {
        w.on("message", () => void answered++)
        const post = w.postMessage.bind(w)
        w.postMessage = (m: { sql?: string; commit?: boolean }) => {
          posted.push({ sql: m.sql ?? "", answered, commit: m.commit === true })
          post(m)
        }
      }))
      yield* db.exec("CREATE TABLE t (k int PRIMARY KEY)")
      // Through the service's traced client, as the stages use it: the reads go together, the writes with the COMMIT.
      posted.length = 0
      const out = yield* db.transaction((q) =>
        Effect.gen(function* () {
          const [, counted] = yield* queryInOrder(q, [{ text: "INSERT INTO t VALUES (1), (2)" }, { text: "SELECT count(*)::int AS n FROM t" }])
          return yield* queryInOrderAndCommit(q, [
            { text: "INSERT INTO t SELECT $1::int + k FROM t", values: [Number(counted?.[0]?.n) * 10] },
            { text: "SELECT count(*)::int AS n FROM t" }
          ])
        }))
      expect(out).toEqual([[], [{ n: 4 }]])
      expect(posted.map((p) => p.sql)).toEqual([
        "INSERT INTO t VALUES (1), (2)", "SELECT count(*)::int AS n FROM t", "INSERT INTO t SELECT $1::int + k FROM t", "SELECT count(*)::int AS n FROM t"
      ])
      // Two round trips: each pair posted before an answer to it came back; the last statement carries the commit.
      expect(posted[1]?.answered).toBe(posted[0]?.answered)
      expect(posted[3]?.answered).toBe(posted[2]?.answered)
      expect(posted.map((p) => p.commit)).toEqual([false, false, false, true])
      expect(yield* db.query<{ k: number }>("SELECT k FROM t ORDER BY k")).toEqual([{ k: 1 }, { k: 2 }, { k: 21 }, { k: 22 }])
      // A failed last statement: the transaction's earlier writes are gone too, and the error is the caller's.
      const failed = yield* Effect.either(db.transaction((q) =>
        Effect.zipRight(q.query("INSERT INTO t VALUES (3)"), queryInOrderAndCommit(q, [{ text: "INSERT INTO t VALUES (4)" }, { text: "INSERT INTO t VALUES (1)" }]))))
      expect(failed._tag === "Left" && failed.left.message).toContain("duplicate key")
      // A transaction of a single statement sent with its commit ends too: the next statements run.
      yield* db.transaction((q) => queryInOrderAndCommit(q, [{ text: "INSERT INTO t VALUES (5)" }]))
      expect(yield* db.query<{ k: number }>("SELECT k FROM t ORDER BY k")).toEqual([{ k: 1 }, { k: 2 }, { k: 5 }, { k: 21 }, { k: 22 }])
    })
  )

  it.scopedLive("reopens the database on a new thread after its thread dies, with everything committed kept", () =>
    Effect.gen(function* () {
      const threads: Array<Worker> = []
      const dir = join(mkdtempSync(join(tmpdir(), "mplp-thread-")), "db")
      const db = yield* makeEmbeddedThread(dir, (w) => threads.push(w))
      yield* db.exec("CREATE TABLE t (k int PRIMARY KEY)")
      yield* db.query("INSERT INTO t SELECT generate_series(1, 1000)")
      // The thread dies while a long statement is running in it: that statement fails, nothing hangs.
      const running = yield* db.query("SELECT pg_sleep(5)").pipe(Effect.either, Effect.fork)
      yield* Effect.sleep("300 millis")
      yield* Effect.promise(() => threads[0]!.terminate())
      const lost = yield* Fiber.join(running)
      expect(lost._tag).toBe("Left")
      const [row] = yield* db.query<{ n: number }>("SELECT count(*)::int AS n FROM t")
      expect(row?.n).toBe(1000)
      expect(threads).toHaveLength(2)
    })
  )
})
