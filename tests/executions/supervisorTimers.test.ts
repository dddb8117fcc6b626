import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Ref, TestClock } from "effect"
import { ExecutionTimeOuts, TimedOut } from "../../src/executions/ExecutionTimeOuts.ts"
import { OpenTraces } from "../../src/executions/OpenTraces.ts"
import { makeSupervisor } from "../../src/executions/TenantSupervisor.ts"
import { TraceRegistry } from "../../src/executions/TraceRegistry.ts"

// The tenant supervisor's timers and actors over the registry's and the time-outs' Test layers, under
// TestClock: deadlines, extensions made by another process, finishes, the sweep and restarts, in ms.

const layer = Layer.merge(TraceRegistry.Test, ExecutionTimeOuts.Test)
/** Lets the forked timer, actors and sweep run after the clock moved. */
const settle = Effect.repeatN(Effect.yieldNow(), 50)
const at = (ms: number) => Effect.zipRight(TestClock.setTime(ms), settle)
const timedOut = Effect.flatMap(TimedOut, Ref.get)

const open = (tenantId: string, traceId: string, deadlineMs: number) =>
  Effect.gen(function* () {
    yield* (yield* TraceRegistry).touch(tenantId, traceId, deadlineMs)
    return { _tag: "Opened" as const, traceId, deadlineMs }
  })

describe("tenant supervisor timers (Test layers, TestClock)", () => {
  it.scoped("times an idle execution out at its deadline, an extended one at its new deadline, a finished one never", () =>
    Effect.gen(function* () {
      const supervisor = yield* makeSupervisor(() => {})
      const registry = yield* TraceRegistry
      yield* supervisor.notify("t1", yield* open("t1", "a", 10_000))
      yield* supervisor.notify("t1", yield* open("t1", "b", 20_000))
      yield* supervisor.notify("t1", yield* open("t1", "c", 15_000))
      yield* registry.close("t1", "c")
      yield* supervisor.notify("t1", { _tag: "Closed", traceId: "c" })
      yield* at(9_999)
      expect(yield* timedOut).toEqual([])
      yield* at(10_000)
      expect(yield* timedOut).toEqual(["t1/a"])
      // Another process extended b: at its old deadline the actor reads the new one back from the registry.
      yield* registry.touch("t1", "b", 30_000)
      yield* at(20_000)
      expect(yield* timedOut).toEqual(["t1/a"])
      expect((yield* supervisor.stats).openTraces).toBe(1)
      yield* at(30_000)
      expect(yield* timedOut).toEqual(["t1/a", "t1/b"])
      expect(yield* supervisor.stats).toEqual({ tenants: 0, actors: 0, openTraces: 0 })
    }).pipe(Effect.provide(layer)))

  it.scoped("the sweep times out an execution whose watching process died (registered, never notified here)", () =>
    Effect.gen(function* () {
      yield* open("t2", "orphan", 1_000)
      yield* makeSupervisor(() => {})
      yield* at(2_999)
      expect(yield* timedOut).toEqual([])
      yield* at(5_000)
      expect(yield* timedOut).toEqual(["t2/orphan"])
    }).pipe(Effect.provide(layer)))

  it.scoped("restarts a failing tenant actor with back-off; another tenant's executions time out meanwhile", () =>
    Effect.gen(function* () {
      let failures = 0
      let restarts = 0
      const Faulty = Layer.effect(TraceRegistry, Effect.map(TraceRegistry, (real) => ({
        ...real,
        open: (tenantId: string) => (tenantId === "bad" && failures < 3 ? Effect.sync(() => failures++).pipe(Effect.zipRight(Effect.dieMessage("injected bug"))) : real.open(tenantId))
      }))).pipe(Layer.provide(TraceRegistry.Test))
      yield* Effect.gen(function* () {
        const supervisor = yield* makeSupervisor(() => restarts++)
        yield* supervisor.notify("bad", yield* open("bad", "x", 1_000))
        yield* supervisor.notify("good", yield* open("good", "y", 1_000))
        yield* settle
        expect(restarts).toBe(1)
        // Back-off 200 ms then 400 ms: the reads at 0, 200 and 600 die, the one at 1,400 succeeds.
        yield* at(1_000)
        expect([failures, restarts]).toEqual([3, 3])
        expect(yield* timedOut).toEqual(["good/y"])
        yield* at(1_399)
        expect(yield* timedOut).toEqual(["good/y"])
        yield* at(1_400)
        expect(yield* timedOut).toEqual(["good/y", "bad/x"])
      }).pipe(Effect.provide(Layer.merge(Faulty, ExecutionTimeOuts.Test)))
    }))
})

describe("OpenTraces (the supervisor's bookkeeping, no effects)", () => {
  it("takes only what is due, re-queues an extended deadline, drops a finished one, and ends an actor with nothing due", () => {
    const woken: Array<number> = []
    const traces = new OpenTraces((at) => woken.push(at))
    const s = traces.stateOf("t")
    traces.setDeadline("t", s, "a", 100)
    traces.setDeadline("t", s, "b", 200)
    traces.setDeadline("t", s, "c", 150)
    traces.setDeadline("t", s, "b", 300) // later: no new heap entry, the old one is re-queued when popped
    traces.closed("t", "c")
    expect(woken).toEqual([100, 200, 150])
    expect(traces.takeDue(99)).toEqual([])
    expect(traces.takeDue(250).map(([t]) => t)).toEqual(["t"])
    expect([...s.due]).toEqual(["a"])
    expect(traces.nextAt()).toBe(300)
    s.loaded = true
    s.running = true
    expect(traces.actorDone("t", s)).toBe(false)
    traces.readBack("t", s, ["a"], [undefined]) // claimed elsewhere or finished
    expect(traces.actorDone("t", s)).toBe(true)
    expect(traces.stats()).toEqual({ tenants: 1, actors: 0, openTraces: 1 })
    traces.closed("t", "b")
    expect(traces.stats()).toEqual({ tenants: 0, actors: 0, openTraces: 0 })
  })
})
