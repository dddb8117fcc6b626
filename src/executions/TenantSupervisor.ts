import { Cause, Clock, Context, Deferred, Duration, Effect, FiberId, FiberMap, Layer, Schedule } from "effect"
import { Telemetry } from "../telemetry/Telemetry.ts"
import { ExecutionTimeOuts } from "./ExecutionTimeOuts.ts"
import { OpenTraces } from "./OpenTraces.ts"
import type { TenantTraces } from "./OpenTraces.ts"
import { TraceRegistry } from "./TraceRegistry.ts"

// The tenant actors and the one timer over every open execution: wiring. The bookkeeping is in
// OpenTraces.ts (no effects), the SQL in executionRows.ts, what a time-out does in ExecutionTimeOuts.ts.

/**
 * What a tenant actor hears about its executions (the durable part is already in the TraceRegistry).
 * `deadlineMs` is the idle deadline just written there; without it the actor reads it back.
 */
export type TraceEvent =
  | { readonly _tag: "Opened"; readonly traceId: string; readonly deadlineMs?: number }
  | { readonly _tag: "Closed"; readonly traceId: string }

const CLAIM_BATCH = 500
const TIMEOUT_CONCURRENCY = 8

/** The supervisor over the registry and the time-outs; `onActorRestart` counts a tenant actor's restart. */
export const makeSupervisor = (onActorRestart: () => void) => Effect.gen(function* () {
  const registry = yield* TraceRegistry
  const timeOuts = yield* ExecutionTimeOuts
  const actors = yield* FiberMap.make<string>()
  // One timer for the whole process over every open execution; `wake` cuts its sleep short when an
  // earlier deadline arrives (undefined while it is awake: it looks at the heap before sleeping again).
  let wakeAt = Number.POSITIVE_INFINITY
  let wake: Deferred.Deferred<void> | undefined
  const traces = new OpenTraces((at) => {
    if (wake !== undefined && at < wakeAt) {
      Deferred.unsafeDone(wake, Effect.void)
      wake = undefined
    }
  })
  const { tenants } = traces

  /** Times out a claimed execution and settles the claim; a claim left unsettled (a crash) lapses and is claimed again. */
  const timeOutClaimed = (tenantId: string, traceId: string) =>
    Effect.zipRight(timeOuts.timeOut(tenantId, traceId), registry.settle(tenantId, [traceId]))

  /**
   * Times out the tenant's due executions. The claim in Redis is atomic, so each is timed out once
   * across processes; the ones not claimed were extended (their new deadline is read back) or were
   * finished or claimed elsewhere (forgotten). One that fails after its claim goes back into Redis,
   * where the actor's retry or the sweeper claims it again; one whose process dies after its claim is
   * claimed again once the claim's lease lapses.
   */
  const expire = (tenantId: string, s: TenantTraces) =>
    Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const seen = [...s.due]
      for (;;) {
        const claimed = yield* registry.claimDue(tenantId, now, CLAIM_BATCH)
        yield* Effect.forEach(claimed, (id) =>
          timeOutClaimed(tenantId, id).pipe(
            Effect.onError(() => Effect.ignore(registry.touch(tenantId, id, now))),
            Effect.zipRight(Effect.sync(() => traces.forget(s, id)))
          ), { concurrency: TIMEOUT_CONCURRENCY, discard: true })
        if (claimed.length < CLAIM_BATCH) break
      }
      const rest = seen.filter((id) => s.due.has(id))
      traces.readBack(tenantId, s, rest, yield* registry.deadlines(tenantId, rest))
    })

  /** A tenant actor: reads its open executions back from Redis when (re)started, then times out the due ones; ends when nothing is left to do. */
  const tenantActor = (tenantId: string, s: TenantTraces) =>
    Effect.gen(function* () {
      for (;;) {
        if (!s.loaded) {
          for (const t of yield* registry.open(tenantId)) traces.setDeadline(tenantId, s, t.traceId, t.deadlineMs)
          s.loaded = true
        }
        if (s.due.size > 0) yield* expire(tenantId, s)
        if (traces.actorDone(tenantId, s)) return
      }
    })

  const supervised = (tenantId: string, s: TenantTraces) =>
    tenantActor(tenantId, s).pipe(
      Effect.catchAllDefect((d) => Effect.fail(d)),
      Effect.tapErrorCause((c) =>
        Cause.isInterruptedOnly(c)
          ? Effect.void
          : Effect.zipRight(Effect.sync(onActorRestart), Effect.logWarning("tenant actor failed; restarting", c))
      ),
      Effect.retry(Schedule.exponential(Duration.millis(200)).pipe(Schedule.union(Schedule.spaced(Duration.seconds(30))))),
      Effect.annotateLogs({ tenantId }),
      Effect.ignore
    )

  const start = (tenantId: string, s: TenantTraces) =>
    Effect.suspend(() => {
      if (s.running) return Effect.void
      s.running = true
      return FiberMap.run(actors, tenantId, supervised(tenantId, s)).pipe(Effect.asVoid)
    })

  /** Delivers an event to the tenant's actor, starting it when the tenant was idle. Never blocks on another tenant. */
  const notify = (tenantId: string, event: TraceEvent) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      if (event._tag === "Closed") return Effect.sync(() => traces.closed(tenantId, event.traceId))
      const s = traces.stateOf(tenantId)
      // Without a deadline it is due at once, i.e. read back from Redis by the actor.
      traces.setDeadline(tenantId, s, event.traceId, event.deadlineMs ?? now)
      return s.loaded ? Effect.void : start(tenantId, s)
    })

  /** Restarts a tenant's actor (settings changed): its open executions are read back from the registry. */
  const reload = (tenantId: string) =>
    Effect.suspend(() => {
      const s = tenants.get(tenantId)
      if (s === undefined) return Effect.void
      s.loaded = false
      return start(tenantId, s)
    })

  yield* Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    yield* Effect.forEach(traces.takeDue(now), ([tenantId, s]) => start(tenantId, s), { discard: true })
    const signal = yield* Effect.sync(() => {
      wakeAt = traces.nextAt()
      wake = Deferred.unsafeMake<void>(FiberId.none)
      return wake
    })
    const until = wakeAt
    const woken = Deferred.await(signal)
    yield* Number.isFinite(until)
      ? Effect.flatMap(Clock.currentTimeMillis, (t) => Effect.raceFirst(Effect.sleep(Duration.millis(Math.max(0, until - t))), woken))
      : woken
    wake = undefined
  }).pipe(
    Effect.catchAllCause((c) => Effect.logError("trace timer failed", c)),
    Effect.forever,
    Effect.forkScoped
  )

  // Executions whose actor died with its process, and claims whose claimer died before settling them:
  // claimed by whoever sees them due first.
  yield* registry.tenantsWithOpenTraces.pipe(
    Effect.flatMap((tenantIds) =>
      Effect.forEach(tenantIds, (tenantId) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => registry.claimDue(tenantId, now - 2_000)).pipe(
          Effect.flatMap((ids) => Effect.forEach(ids, (id) => timeOutClaimed(tenantId, id).pipe(Effect.annotateLogs({ tenantId })), { discard: true }))
        ), { discard: true })
    ),
    Effect.catchAllCause((c) => Effect.logWarning("trace sweep failed", c)),
    Effect.repeat(Schedule.spaced(Duration.seconds(5))),
    Effect.forkScoped
  )

  return {
    notify,
    reload,
    /** Tenants with open executions here (or a running actor), running actors, open executions. */
    stats: Effect.sync(() => traces.stats())
  } as const
})

export class TenantSupervisor extends Context.Tag("executions/TenantSupervisor")<TenantSupervisor, Effect.Effect.Success<ReturnType<typeof makeSupervisor>>>() {
  static readonly Live = Layer.scoped(
    TenantSupervisor,
    Effect.flatMap(Telemetry, (telemetry) => makeSupervisor(() => telemetry.actorRestarts.add(1, { kind: "tenant" })))
  ).pipe(Layer.provide(ExecutionTimeOuts.Live))
}
