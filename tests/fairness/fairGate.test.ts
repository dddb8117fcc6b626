import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber } from "effect"
import { costing, inLane, makeContention, makeDrr, makeFairGate } from "../../src/db/fairGate.ts"

const drain = <T>(drr: ReturnType<typeof makeDrr<T>>) => {
  const out: Array<T> = []
  for (let x = drr.next(); x !== undefined; x = drr.next()) out.push(x)
  return out
}

describe("deficit round robin between lanes (makeDrr)", () => {
  it("serves a quiet lane's one-row item before the busy lane's later chunks", () => {
    const drr = makeDrr<string>(500)
    for (const a of ["a1", "a2", "a3"]) drr.push("A", 500, a)
    drr.push("B", 1, "b1")
    expect(drain(drr)).toEqual(["a1", "b1", "a2", "a3"])
  })

  it("weighs by rows: a 2,000-row statement waits while a lane of small ones runs within its quantum", () => {
    const drr = makeDrr<string>(500)
    drr.push("A", 2000, "a-big")
    drr.push("A", 2000, "a-big2")
    drr.push("B", 1, "b1")
    drr.push("B", 1, "b2")
    drr.push("C", 400, "c1")
    drr.push("C", 400, "c2")
    // A earns 500 a turn: its first statement runs on its 4th turn; B and C run theirs meanwhile.
    expect(drain(drr)).toEqual(["b1", "b2", "c1", "c2", "a-big", "a-big2"])
    expect(drr.size).toBe(0)
  })

  it("gives no credit to a lane that went idle", () => {
    const drr = makeDrr<string>(10)
    drr.push("A", 1, "a1")
    expect(drr.next()).toBe("a1")
    // A earned 10, spent 1 and went idle: it starts again from 0, so its 19 rows need a second turn
    // (had it kept its 9, they would run first).
    drr.push("A", 19, "a2")
    drr.push("B", 10, "b1")
    drr.push("B", 10, "b2")
    expect(drain(drr)).toEqual(["b1", "a2", "b2"])
  })

  it("takes out an item whose requester gave up", () => {
    const drr = makeDrr<string>(500)
    drr.push("A", 1, "a1")
    drr.push("B", 1, "b1")
    expect(drr.remove("a1")).toBe(true)
    expect(drr.remove("a1")).toBe(false)
    expect(drain(drr)).toEqual(["b1"])
  })
})

describe("the database's fair gate (makeFairGate)", () => {
  it.effect("hands the next free slot to tenant B's one-row insert before tenant A's queued chunks", () =>
    Effect.gen(function* () {
      const gate = makeFairGate(1, 500)
      const order: Array<string> = []
      const hold = yield* Deferred.make<void>()
      // A holds the only slot; three more of A's 500-row statements wait, then B's one-row one.
      const first = yield* Effect.fork(gate(false, Deferred.await(hold)).pipe(costing(500), inLane("A")))
      yield* Effect.yieldNow()
      const stmt = (lane: string, name: string, rows: number) =>
        Effect.fork(gate(false, Effect.sync(() => void order.push(name))).pipe(costing(rows), inLane(lane)))
      const waiting = [yield* stmt("A", "a1", 500), yield* stmt("A", "a2", 500), yield* stmt("A", "a3", 500), yield* stmt("B", "b1", 1)]
      yield* Effect.yieldNow()
      expect(order).toEqual([])
      yield* Deferred.succeed(hold, undefined)
      yield* Fiber.join(first)
      yield* Effect.forEach(waiting, Fiber.join)
      expect(order).toEqual(["a1", "b1", "a2", "a3"])
    }))

  it.effect("a transaction (exclusive) waits for the statements in flight, and none start beside it", () =>
    Effect.gen(function* () {
      const gate = makeFairGate(2, 500)
      const events: Array<string> = []
      const hold = yield* Deferred.make<void>()
      const running = yield* Effect.fork(gate(false, Effect.zipRight(Effect.sync(() => void events.push("s1 start")), Deferred.await(hold))).pipe(inLane("A")))
      yield* Effect.yieldNow()
      const tx = yield* Effect.fork(gate(true, Effect.sync(() => void events.push("tx"))).pipe(inLane("B")))
      yield* Effect.yieldNow()
      const later = yield* Effect.fork(gate(false, Effect.sync(() => void events.push("s2"))).pipe(inLane("C")))
      yield* Effect.yieldNow()
      // A slot is free, but the transaction was chosen first: s2 waits for it.
      expect(events).toEqual(["s1 start"])
      yield* Deferred.succeed(hold, undefined)
      yield* Effect.forEach([running, tx, later], Fiber.join)
      expect(events).toEqual(["s1 start", "tx", "s2"])
    }))

  it.effect("an interrupted waiter leaves the queue and the slot goes to the next", () =>
    Effect.gen(function* () {
      const gate = makeFairGate(1, 500)
      const order: Array<string> = []
      const hold = yield* Deferred.make<void>()
      const first = yield* Effect.fork(gate(false, Deferred.await(hold)).pipe(inLane("A")))
      yield* Effect.yieldNow()
      const gone = yield* Effect.fork(gate(false, Effect.sync(() => void order.push("gone"))).pipe(inLane("B")))
      const next = yield* Effect.fork(gate(false, Effect.sync(() => void order.push("next"))).pipe(inLane("C")))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(gone)
      yield* Deferred.succeed(hold, undefined)
      yield* Effect.forEach([first, next], Fiber.join)
      expect(order).toEqual(["next"])
    }))
})

describe("statement contention (makeContention)", () => {
  it("is on while two tenants' lanes asked within the window, not for one tenant and the service's own work", () => {
    let t = 0
    const c = makeContention(1000, () => t)
    c.note("A")
    c.note("")
    c.note("A")
    expect(c.contended()).toBe(false)
    t = 100
    c.note("B")
    expect(c.contended()).toBe(true)
    t = 1050
    // A was last seen at 0: more than a second ago, though B is recent.
    expect(c.contended()).toBe(false)
    c.note("B")
    expect(c.contended()).toBe(false)
    c.note("A")
    expect(c.contended()).toBe(true)
    t = 2100
    expect(c.contended()).toBe(false)
  })

  it("is noted by a gate given it: the lanes of the statements it lets in", async () => {
    let t = 0
    const c = makeContention(1000, () => t)
    const gate = makeFairGate(2, 500, c)
    const run = (lane: string) => Effect.runPromise(gate(false, Effect.void).pipe(inLane(lane)))
    await run("A")
    expect(c.contended()).toBe(false)
    t = 10
    await run("B")
    expect(c.contended()).toBe(true)
  })
})
