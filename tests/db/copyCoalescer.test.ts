import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, FiberRef } from "effect"
import { DbError } from "../../src/db/client.ts"
import { makeCopyCoalescer } from "../../src/db/copyCoalescer.ts"
import { costing, DbCost, DbLane, inLane } from "../../src/db/fairGate.ts"

// The statements a coalescer sends, held open until the test lets each one finish: a stand-in for the
// pool's COPY (the real one is proven against a TimescaleDB server by tests/ingest/copyInsert.test.ts).
const makeStatements = (fails: (data: string) => boolean = () => false) =>
  Effect.gen(function* () {
    const sent: Array<{ table: string; data: string; parts: number; lane: string; cost: number; finish: Deferred.Deferred<void> }> = []
    const run = (table: string, _columns: ReadonlyArray<string>, parts: ReadonlyArray<Buffer>) =>
      Effect.gen(function* () {
        const finish = yield* Deferred.make<void>()
        // The parts go as one statement's data, in order.
        const data = Buffer.concat(parts).toString()
        sent.push({ table, data, parts: parts.length, lane: yield* FiberRef.get(DbLane), cost: yield* FiberRef.get(DbCost), finish })
        yield* Deferred.await(finish)
        if (fails(data)) return yield* new DbError({ cause: { code: "23505", message: "duplicate key value violates unique constraint" } })
      })
    const finishNext = (i: number) =>
      Effect.gen(function* () {
        while (sent.length <= i) yield* Effect.yieldNow()
        yield* Deferred.succeed(sent[i]!.finish, undefined)
      })
    return { sent, run, finishNext, rows: () => sent.map((x) => x.data) }
  })

type Copy = ReturnType<typeof makeCopyCoalescer>
/** A caller asking for one row of table "t". */
const ask = (copy: Copy, row: string) => Effect.fork(copy("t", ["x"], Buffer.from(row)))

const settle = Effect.repeatN(Effect.yieldNow(), 20)

describe("COPY group commit (makeCopyCoalescer)", () => {
  it.effect("sends the rows asked for while a COPY runs as one statement, and ends each caller once its rows are in", () =>
    Effect.gen(function* () {
      const { finishNext, rows, run, sent } = yield* makeStatements()
      const copy = makeCopyCoalescer(run, { maxInFlight: 1, maxBytes: 1 << 20 })
      const a = yield* Effect.fork(copy("spans", ["x"], Buffer.from("a\n")).pipe(inLane("tenant-a")))
      yield* settle
      // b, c and d wait behind a's statement, with their own costs.
      const b = yield* Effect.fork(copy("spans", ["x"], Buffer.from("b\n")).pipe(costing(3), inLane("tenant-b")))
      const c = yield* Effect.fork(copy("spans", ["x"], Buffer.from("c\n")).pipe(costing(4), inLane("tenant-c")))
      const d = yield* Effect.fork(copy("metric_points", ["x"], Buffer.from("m\n")))
      yield* settle
      expect(sent.map((s) => [s.table, s.data])).toEqual([["spans", "a\n"], ["metric_points", "m\n"]])
      expect(b.unsafePoll()).toBeNull()
      yield* finishNext(0)
      yield* Fiber.join(a)
      yield* settle
      // One statement of b and c, in the service's lane weighed as their rows together; neither ends before it does.
      expect(rows()).toEqual(["a\n", "m\n", "b\nc\n"])
      // Each caller's rows go as they are (a CopyData message each, src/db/pgPool.ts), not joined first.
      expect(sent.map((s) => s.parts)).toEqual([1, 1, 2])
      expect(sent[2]!.cost).toBe(7)
      expect(sent[0]!.lane).toBe("tenant-a")
      expect(sent[2]!.lane).toBe("")
      expect(b.unsafePoll()).toBeNull()
      expect(c.unsafePoll()).toBeNull()
      yield* finishNext(2)
      yield* Fiber.join(b)
      yield* Fiber.join(c)
      yield* finishNext(1)
      yield* Fiber.join(d)
      expect(sent).toHaveLength(3)
    }))

  it.effect("caps a merged statement at maxBytes; the rest go in the next one", () =>
    Effect.gen(function* () {
      const { finishNext, rows, run } = yield* makeStatements()
      const copy = makeCopyCoalescer(run, { maxInFlight: 1, maxBytes: 6 })
      const first = yield* ask(copy, "0\n")
      yield* settle
      const rest = yield* Effect.forEach(["1\n", "2\n", "3\n", "4\n"], (r) => ask(copy, r))
      yield* settle
      yield* finishNext(0)
      yield* settle
      expect(rows()).toEqual(["0\n", "1\n2\n3\n"])
      yield* finishNext(1)
      yield* settle
      expect(rows()).toEqual(["0\n", "1\n2\n3\n", "4\n"])
      yield* finishNext(2)
      yield* Fiber.join(first)
      yield* Effect.forEach(rest, Fiber.join)
    }))

  it.effect("a merged statement that fails is sent again part by part: only the part holding the stored row fails", () =>
    Effect.gen(function* () {
      // Any statement holding "dup" fails, as a COPY of a row already stored does.
      const { finishNext, rows, run } = yield* makeStatements((d) => d.includes("dup"))
      const copy = makeCopyCoalescer(run, { maxInFlight: 1, maxBytes: 1 << 20 })
      const first = yield* ask(copy, "0\n")
      yield* settle
      const ok1 = yield* ask(copy, "ok1\n")
      const dup = yield* ask(copy, "dup\n")
      const ok2 = yield* ask(copy, "ok2\n")
      yield* settle
      for (let i = 0; i < 5; i++) yield* finishNext(i)
      yield* Fiber.join(first)
      expect(yield* Fiber.join(ok1).pipe(Effect.exit)).toEqual(Exit.void)
      expect(yield* Fiber.join(ok2).pipe(Effect.exit)).toEqual(Exit.void)
      const failed = yield* Fiber.join(dup).pipe(Effect.flip)
      expect(failed.code).toBe("23505")
      expect(rows()).toEqual(["0\n", "ok1\ndup\nok2\n", "ok1\n", "dup\n", "ok2\n"])
    }))

  it.effect("a waiting caller that is interrupted leaves the queue, and one handed the slot passes it on", () =>
    Effect.gen(function* () {
      const { finishNext, rows, run } = yield* makeStatements()
      const copy = makeCopyCoalescer(run, { maxInFlight: 1, maxBytes: 1 << 20 })
      const first = yield* ask(copy, "0\n")
      yield* settle
      const gone = yield* ask(copy, "gone\n")
      const kept = yield* ask(copy, "kept\n")
      yield* settle
      yield* Fiber.interrupt(gone)
      yield* finishNext(0)
      yield* Fiber.join(first)
      yield* settle
      expect(rows()).toEqual(["0\n", "kept\n"])
      yield* finishNext(1)
      yield* Fiber.join(kept)
      // The slot is free again: a new caller leads at once.
      const later = yield* ask(copy, "later\n")
      yield* settle
      expect(rows()).toEqual(["0\n", "kept\n", "later\n"])
      yield* finishNext(2)
      yield* Fiber.join(later)
    }))

  it.effect("a leader interrupted mid-statement fails the parts it took, and the next waiting caller leads", () =>
    Effect.gen(function* () {
      const { finishNext, rows, run } = yield* makeStatements()
      const copy = makeCopyCoalescer(run, { maxInFlight: 1, maxBytes: 1 << 20 })
      const first = yield* ask(copy, "0\n")
      yield* settle
      const b = yield* ask(copy, "b\n")
      yield* settle
      yield* Fiber.interrupt(first)
      yield* settle
      // b was not in the interrupted statement: it leads its own.
      expect(rows()).toEqual(["0\n", "b\n"])
      yield* finishNext(1)
      expect(yield* Fiber.join(b).pipe(Effect.exit)).toEqual(Exit.void)
      // A caller handed the slot and cancelled in its own statement frees the slot too.
      const lead = yield* ask(copy, "e\n")
      yield* settle
      const c = yield* ask(copy, "c\n")
      yield* settle
      yield* finishNext(2)
      yield* Fiber.join(lead)
      yield* settle
      expect(rows()).toEqual(["0\n", "b\n", "e\n", "c\n"])
      yield* Fiber.interrupt(c)
      yield* settle
      const after = yield* ask(copy, "f\n")
      yield* settle
      expect(rows()).toEqual(["0\n", "b\n", "e\n", "c\n", "f\n"])
      yield* finishNext(4)
      yield* Fiber.join(after)
    }))

  it.effect("up to maxInFlight statements run at once", () =>
    Effect.gen(function* () {
      const { finishNext, rows, run } = yield* makeStatements()
      const copy = makeCopyCoalescer(run, { maxInFlight: 2, maxBytes: 1 << 20 })
      const fibers = yield* Effect.forEach(["a\n", "b\n", "c\n", "d\n"], (r) => ask(copy, r))
      yield* settle
      expect(rows()).toEqual(["a\n", "b\n"])
      yield* finishNext(1)
      yield* settle
      expect(rows()).toEqual(["a\n", "b\n", "c\nd\n"])
      yield* finishNext(0)
      yield* finishNext(2)
      yield* Effect.forEach(fibers, Fiber.join)
    }))
})
