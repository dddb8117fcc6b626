import { Cause, Clock, Context, Deferred, Duration, Effect, FiberId, FiberMap, Layer, Schedule } from "effect"
import { Db } from "../db/Db.ts"
import { AlertJob } from "../domain/pipeline.ts"
import { makeProducer } from "../queues/Queues.ts"
import { Telemetry } from "../telemetry/Telemetry.ts"
import { DeadlineHeap } from "./DeadlineHeap.ts"
import { markTimedOut } from "./executionRows.ts"
import { TraceRegistry } from "./TraceRegistry.ts"
import { insertExecutionSpan } from "../ingest/executionSpan.ts"
import { LiveFeed } from "./LiveFeed.ts"

/**
 * What a tenant actor hears about its executions (the durable part is already in the TraceRegistry).
 * `deadlineMs` is the idle deadline just written there; without it the actor reads it back.
 */
export type TraceEvent =
  | { readonly _tag: "Opened"; readonly traceId: string; readonly deadlineMs?: number }
  | { readonly _tag: "Closed"; readonly traceId: string }

/**
 * A tenant's open executions as this process knows them. It exists only while the tenant has some
 * (or its actor is running), so an idle tenant costs nothing. The deadlines mirror the Redis zset and
 * may be early (another process extended one), never trusted: a due one is claimed or re-read there.
 */
interface TenantTraces {
  readonly open: Map<string, number>
  /** Past their in-memory deadline, waiting for the actor to claim them or re-read their deadline. */
  readonly due: Set<string>
  /** The open executions recorded in Redis have been read (after a start or a reload). */
  loaded: boolean
  /** The actor is running or waiting to restart; it ends once `loaded` and nothing is due. */
  running: boolean
}

const CLAIM_BATCH = 500
const TIMEOUT_CONCURRENCY = 8

const makeSupervisor = Effect.gen(function* () {
  const db = yield* Db
  const registry = yield* TraceRegistry
  const telemetry = yield* Telemetry
  const live = yield* LiveFeed
  const alerts = yield* makeProducer("alert", AlertJob)
  const actors = yield* FiberMap.make<string>()
  const tenants = new Map<string, TenantTraces>()
  // One timer for the whole process over every open execution; `wake` cuts its sleep short when an
  // earlier deadline arrives (undefined while it is awake: it looks at the heap before sleeping again).
  const heap = new DeadlineHeap()
  let openTraces = 0
  let wakeAt = Number.POSITIVE_INFINITY
  let wake: Deferred.Deferred<void> | undefined

  const schedule = (at: number, tenantId: string, traceId: string) => {
    heap.push(at, tenantId, traceId)
    // Stale entries (finished or extended executions) are dropped lazily; rebuilt before they dominate.
    if (heap.size > 2 * openTraces + 1024) {
      heap.clear()
      for (const [t, s] of tenants) for (const [id, d] of s.open) heap.push(d, t, id)
    }
    if (wake !== undefined && at < wakeAt) {
      Deferred.unsafeDone(wake, Effect.void)
      wake = undefined
    }
  }

  // Invariant: every execution in `open` has a heap entry at or before its deadline, or is in `due`.
  const setDeadline = (tenantId: string, s: TenantTraces, traceId: string, at: number) => {
    const before = s.open.get(traceId)
    s.open.set(traceId, at)
    if (before === undefined) openTraces++
    if (before === undefined || at < before) schedule(at, tenantId, traceId)
  }

  const forget = (s: TenantTraces, traceId: string) => {
    if (s.open.delete(traceId)) openTraces--
    s.due.delete(traceId)
  }

  /**
   * Marks the execution timed out (if still open) and raises its execution_timeout alert. One already
   * timed out raises it again: its claimer may have died between the UPDATE and the alert, and the
   * alert is keyed by execution (the alert stage stores it once), so a repeat changes nothing.
   */
  // `executionId` is the id the registry and heap know the execution by (see IngestStage's hand-off).
  const timeOut = (tenantId: string, executionId: string) =>
    Effect.gen(function* () {
      const row = yield* markTimedOut(db, tenantId, executionId)
      if (row === undefined) return
      // Like the alert, the span is keyed: a repeated time-out writes it once.
      yield* insertExecutionSpan(db, tenantId, executionId)
      const payload = {
        executionId, traceId: executionId.slice(0, 32), serviceName: row.service_name, operationName: row.operation_name,
        startTime: new Date(row.start_time).toISOString()
      }
      yield* alerts.add("event", { _tag: "event", tenantId, eventType: "execution_timeout", key: executionId, payload }, { jobId: `${tenantId}.timeout-${executionId}` })
      const at = new Date().toISOString()
      yield* live.publish(tenantId, {
        kind: "timeout",
        execution: {
          executionId, traceId: payload.traceId, serviceName: row.service_name, operationName: row.operation_name, status: "timed_out",
          progressPercentage: null, currentOperation: null, metrics: {}, lastEvents: [], startTime: payload.startTime, updatedAt: at
        }
      }).pipe(Effect.catchAll((e) => Effect.logWarning(`live view: time-out of ${executionId} not published: ${e.message}`)))
      yield* Effect.logInfo(`execution ${executionId} timed out`)
    })

  /** Times out a claimed execution and settles the claim; a claim left unsettled (a crash) lapses and is claimed again. */
  const timeOutClaimed = (tenantId: string, traceId: string) =>
    Effect.zipRight(timeOut(tenantId, traceId), registry.settle(tenantId, [traceId]))

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
            Effect.zipRight(Effect.sync(() => forget(s, id)))
          ), { concurrency: TIMEOUT_CONCURRENCY, discard: true })
        if (claimed.length < CLAIM_BATCH) break
      }
      const rest = seen.filter((id) => s.due.has(id))
      const current = yield* registry.deadlines(tenantId, rest)
      rest.forEach((id, i) => {
        const at = current[i]
        if (at === undefined) forget(s, id)
        else if (s.due.delete(id)) {
          s.open.set(id, at)
          schedule(at, tenantId, id)
        }
      })
    })

  /** A tenant actor: reads its open executions back from Redis when (re)started, then times out the due ones; ends when nothing is left to do. */
  const tenantActor = (tenantId: string, s: TenantTraces) =>
    Effect.gen(function* () {
      for (;;) {
        if (!s.loaded) {
          for (const t of yield* registry.open(tenantId)) setDeadline(tenantId, s, t.traceId, t.deadlineMs)
          s.loaded = true
        }
        if (s.due.size > 0) yield* expire(tenantId, s)
        if (s.loaded && s.due.size === 0) {
          s.running = false
          if (s.open.size === 0 && tenants.get(tenantId) === s) tenants.delete(tenantId)
          return
        }
      }
    })

  const supervised = (tenantId: string, s: TenantTraces) =>
    tenantActor(tenantId, s).pipe(
      Effect.catchAllDefect((d) => Effect.fail(d)),
      Effect.tapErrorCause((c) =>
        Cause.isInterruptedOnly(c)
          ? Effect.void
          : Effect.zipRight(Effect.sync(() => telemetry.actorRestarts.add(1, { kind: "tenant" })), Effect.logWarning("tenant actor failed; restarting", c))
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

  const stateOf = (tenantId: string) => {
    let s = tenants.get(tenantId)
    if (s === undefined) {
      s = { open: new Map(), due: new Set(), loaded: false, running: false }
      tenants.set(tenantId, s)
    }
    return s
  }

  /** Delivers an event to the tenant's actor, starting it when the tenant was idle. Never blocks on another tenant. */
  const notify = (tenantId: string, event: TraceEvent) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      if (event._tag === "Closed") {
        const s = tenants.get(tenantId)
        if (s !== undefined) {
          forget(s, event.traceId)
          if (s.open.size === 0 && !s.running) tenants.delete(tenantId)
        }
        return Effect.void
      }
      const s = stateOf(tenantId)
      // Without a deadline it is due at once, i.e. read back from Redis by the actor.
      setDeadline(tenantId, s, event.traceId, event.deadlineMs ?? now)
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

  /** Moves the executions whose in-memory deadline passed to their tenant's `due`; the tenants to start. */
  const takeDue = (now: number) => {
    const ready: Array<[string, TenantTraces]> = []
    while (heap.topAt() <= now) {
      heap.pop((_at, tenantId, traceId) => {
        const s = tenants.get(tenantId)
        const current = s?.open.get(traceId)
        if (s === undefined || current === undefined) return
        if (current > now) {
          heap.push(current, tenantId, traceId) // extended meanwhile
          return
        }
        s.due.add(traceId)
        if (!s.running) ready.push([tenantId, s])
      })
    }
    return ready
  }

  yield* Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    yield* Effect.forEach(takeDue(now), ([tenantId, s]) => start(tenantId, s), { discard: true })
    const signal = yield* Effect.sync(() => {
      wakeAt = heap.topAt()
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
    stats: Effect.sync(() => ({ tenants: tenants.size, actors: [...tenants.values()].filter((s) => s.running).length, openTraces }))
  } as const
})

export class TenantSupervisor extends Context.Tag("executions/TenantSupervisor")<TenantSupervisor, Effect.Effect.Success<typeof makeSupervisor>>() {
  static readonly Live = Layer.scoped(TenantSupervisor, makeSupervisor).pipe(Layer.provide(LiveFeed.Live))
}
