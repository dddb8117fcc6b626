import { Cause, Clock, Context, Deferred, Duration, Effect, ExecutionStrategy, Exit, Fiber, FiberMap, Layer, Option, Schedule, Scope } from "effect"
import type { ObservableResult } from "@opentelemetry/api"
import { AppConfig } from "../config/AppConfig.ts"
import { Db } from "../db/Db.ts"
import { executionById } from "../db/executionByTrace.ts"
import { executionIdOfJob } from "../domain/jobs.ts"
import type { LiveExecution } from "../domain/liveViews.ts"
import type { Applied } from "../ingest/executions.ts"
import { Telemetry } from "../telemetry/Telemetry.ts"
import { LiveFeed } from "./LiveFeed.ts"
import { applyStep, changeKind, started, withEvents } from "./liveState.ts"
import type { ExecutionJob } from "./liveState.ts"

/** A step for an execution's actor: the work that applies it (the ingest stage's transaction), and who waits for its outcome. */
interface Step {
  readonly job: ExecutionJob
  readonly work: Effect.Effect<Applied, unknown>
  readonly reply: Deferred.Deferred<Applied, unknown>
}

/** One running execution's actor: its mailbox and its live state (undefined until read back after a (re)activation). */
interface Actor {
  /** Steps waiting, oldest first; `wake` is set while the actor waits for one. (Cheaper than a Queue: ~5 KB each.) */
  readonly mailbox: Array<Step>
  wake: Deferred.Deferred<void> | undefined
  state: LiveExecution | undefined
  /** Applying a step (not idle, whatever its mailbox). */
  busy: boolean
  /** When it last finished a step (or was activated). */
  lastActive: number
  fiber?: Fiber.RuntimeFiber<void>
}

/** A tenant's trace actors: one fiber per active execution, in a FiberMap of the tenant's own (gone when it has none). */
interface TenantTraceActors {
  readonly actors: Map<string, Actor>
  readonly fibers: FiberMap.FiberMap<string>
  readonly scope: Scope.CloseableScope
}

type Row = {
  trace_id: string
  service_name: string
  operation_name: string
  status: string
  progress_percentage: number | null
  current_operation: string | null
  metrics: Record<string, unknown> | null
  start_time: Date
  updated_at: Date
}

const numbersOf = (o: Record<string, unknown> | null) => {
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(o ?? {})) if (typeof v === "number") out[k] = v
  return out
}

/**
 * Virtual trace actors: a running execution's steps are applied by its actor, one at a time and in
 * arrival order, and the actor keeps its live state for the live view. An actor is activated by its
 * execution's first step in this process, passivated after `MPLP_TRACE_ACTOR_IDLE_MS` without one or
 * when the execution finishes; the deadline that times it out stays in the TenantSupervisor's heap.
 * Everything an actor holds is durable elsewhere (the row, the live stream), so a defect restarts it
 * with its state read back, without touching another execution's actor.
 */
export const makeTraceActors = (idleMs: number) =>
  Effect.gen(function* () {
    const db = yield* Db
    const live = yield* LiveFeed
    const telemetry = yield* Telemetry
    const scope = yield* Effect.scope
    const tenants = new Map<string, TenantTraceActors>()
    let active = 0

    const observe = (r: ObservableResult) => r.observe(active)
    telemetry.traceActors.addCallback(observe)
    yield* Effect.addFinalizer(() => Effect.sync(() => telemetry.traceActors.removeCallback(observe)))

    /** The execution's live state as stored, with the step's events (the row already holds the step). */
    const readBack = (tenantId: string, job: ExecutionJob) =>
      db.query<Row>(
        `SELECT trace_id, service_name, operation_name, status, progress_percentage, current_operation, metrics, start_time, updated_at
         FROM executions WHERE ${executionById()} AND source = 'api' LIMIT 1`, [tenantId, executionIdOfJob(job)]
      ).pipe(
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), (r): LiveExecution => withEvents({
          executionId: executionIdOfJob(job), traceId: r.trace_id, serviceName: r.service_name, operationName: r.operation_name,
          status: r.status, progressPercentage: r.progress_percentage === null ? null : Number(r.progress_percentage),
          currentOperation: r.current_operation, metrics: numbersOf(r.metrics), lastEvents: [],
          startTime: new Date(r.start_time).toISOString(), updatedAt: new Date(r.updated_at).toISOString()
        }, job)))
      )

    /** Applies one step and, when it changed the execution, folds it into the live state and publishes the change. */
    const handle = (tenantId: string, actor: Actor, step: Step) =>
      Effect.gen(function* () {
        const applied = yield* step.work
        if (!applied.applied) return applied
        const job = step.job
        const next = job._tag === "execution-start"
          ? started(job)
          : actor.state !== undefined
          ? applyStep(actor.state, job)
          : Option.getOrUndefined(yield* readBack(tenantId, job))
        actor.state = next
        if (next !== undefined) {
          yield* live.publish(tenantId, { kind: changeKind(job), execution: next }).pipe(
            Effect.catchAll((e) => Effect.logWarning(`live view: change of ${next.executionId} not published: ${e.message}`))
          )
        }
        return applied
      })

    /** Forgets an actor that has nothing to do (checked and done in one synchronous step, so no step is lost); the group too when it was its last. */
    const forget = (tenantId: string, executionId: string, group: TenantTraceActors, actor: Actor) => {
      if (actor.busy || actor.mailbox.length > 0) return "kept" as const
      if (group.actors.get(executionId) === actor) {
        group.actors.delete(executionId)
        active--
      }
      if (group.actors.size === 0 && tenants.get(tenantId) === group) {
        tenants.delete(tenantId)
        return "group" as const
      }
      return "actor" as const
    }

    /**
     * An actor waits for its next step on its mailbox alone (one fiber, no timer: a timeout per actor
     * would cost two more fibers each); this one sweep passivates the ones idle for `idleMs`.
     */
    yield* Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const idle: Array<Fiber.RuntimeFiber<void>> = []
      const groups: Array<Scope.CloseableScope> = []
      for (const [tenantId, group] of tenants) {
        for (const [executionId, actor] of group.actors) {
          if (now - actor.lastActive < idleMs) continue
          const gone = forget(tenantId, executionId, group, actor)
          // Interrupted by reference, not by key: a step arriving meanwhile has already activated a new actor under the key.
          if (gone === "actor" && actor.fiber !== undefined) idle.push(actor.fiber)
          if (gone === "group") groups.push(group.scope)
        }
      }
      yield* Effect.forEach(idle, (f) => Fiber.interrupt(f), { discard: true })
      yield* Effect.forEach(groups, (g) => Scope.close(g, Exit.void), { discard: true })
    }).pipe(
      Effect.catchAllCause((c) => Effect.logError("trace actor sweep failed", c)),
      Effect.repeat(Schedule.spaced(Duration.millis(Math.min(1000, Math.max(10, Math.floor(idleMs / 4)))))),
      Effect.forkScoped
    )

    /**
     * Takes and applies the actor's next step; true when it finished the execution. A function of its
     * own so that nothing of a step (its job, the BullMQ job its work holds) outlives it while the actor waits.
     */
    const next = (tenantId: string, actor: Actor) =>
      Effect.gen(function* () {
        if (actor.mailbox.length === 0) {
          const wake = yield* Deferred.make<void>()
          actor.wake = wake
          yield* Deferred.await(wake)
        }
        const step = actor.mailbox.shift()
        if (step === undefined) return false
        actor.busy = true
        // A failed step (out of order, database down) is its job's to retry; a defect restarts the actor.
        const exit = yield* Effect.exit(handle(tenantId, actor, step))
        actor.busy = false
        actor.lastActive = yield* Clock.currentTimeMillis
        yield* Deferred.done(step.reply, exit)
        if (Exit.isFailure(exit) && Cause.isDie(exit.cause)) return yield* Effect.failCause(exit.cause)
        return Exit.isSuccess(exit) && step.job._tag === "execution-finish"
      })

    const loop = (tenantId: string, executionId: string, group: TenantTraceActors, actor: Actor) =>
      Effect.gen(function* () {
        for (;;) {
          if (!(yield* next(tenantId, actor))) continue
          const gone = forget(tenantId, executionId, group, actor)
          // This fiber is one of the group's: the group's scope is closed from outside it, as it ends.
          if (gone === "group") Effect.runFork(Scope.close(group.scope, Exit.void))
          if (gone !== "kept") return
        }
      })

    const supervised = (tenantId: string, executionId: string, group: TenantTraceActors, actor: Actor) =>
      Effect.gen(function* () {
        // Restarted with back-off (20 ms doubling, at most 5 s) after a defect; a loop, not Effect.retry, whose schedule state costs ~5 KB per actor.
        for (let restarts = 0; ; restarts++) {
          const exit = yield* Effect.exit(loop(tenantId, executionId, group, actor))
          if (Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause)) return
          telemetry.actorRestarts.add(1, { kind: "trace" })
          actor.state = undefined // read back from the database by the next step
          actor.busy = false
          yield* Effect.logWarning("trace actor failed; restarting", exit.cause)
          yield* Effect.sleep(Duration.millis(Math.min(5_000, 20 * 2 ** Math.min(restarts, 8))))
        }
      }).pipe(Effect.annotateLogs({ tenantId, executionId }))

    const groupOf = (tenantId: string) =>
      Effect.gen(function* () {
        const known = tenants.get(tenantId)
        if (known !== undefined) return known
        const child = yield* Scope.fork(scope, ExecutionStrategy.sequential)
        const fibers = yield* FiberMap.make<string>().pipe(Scope.extend(child))
        // Another step may have made it meanwhile (FiberMap.make yields).
        const again = tenants.get(tenantId)
        if (again !== undefined) {
          yield* Scope.close(child, Exit.void)
          return again
        }
        const group: TenantTraceActors = { actors: new Map(), fibers, scope: child }
        tenants.set(tenantId, group)
        return group
      })

    /**
     * Hands a step to its execution's actor (activating it) and waits for the outcome. Steps of one
     * execution are applied one at a time, in the order they arrive here.
     */
    const submit = (tenantId: string, job: ExecutionJob, work: Effect.Effect<Applied, unknown>) =>
      Effect.gen(function* () {
        const executionId = executionIdOfJob(job)
        const reply = yield* Deferred.make<Applied, unknown>()
        for (;;) {
          const group = yield* groupOf(tenantId)
          // Looked up and offered in one synchronous step: an actor passivates only with an empty mailbox.
          const now = yield* Clock.currentTimeMillis
          const enqueued = yield* Effect.sync(() => {
            if (tenants.get(tenantId) !== group) return undefined // its last actor passivated meanwhile
            const known = group.actors.get(executionId)
            const actor: Actor = known ?? { mailbox: [], wake: undefined, state: undefined, busy: false, lastActive: now }
            if (known === undefined) {
              group.actors.set(executionId, actor)
              active++
            }
            actor.mailbox.push({ job, work, reply })
            if (actor.wake !== undefined) {
              Deferred.unsafeDone(actor.wake, Exit.void)
              actor.wake = undefined
            }
            return { actor, fresh: known === undefined }
          })
          if (enqueued === undefined) continue
          if (enqueued.fresh) enqueued.actor.fiber = yield* FiberMap.run(group.fibers, executionId, supervised(tenantId, executionId, group, enqueued.actor))
          break
        }
        return yield* Deferred.await(reply)
      })

    return { submit } as const
  })

export class TraceActors extends Context.Tag("executions/TraceActors")<TraceActors, Effect.Effect.Success<ReturnType<typeof makeTraceActors>>>() {
  static readonly Live = Layer.scoped(TraceActors, Effect.flatMap(AppConfig, (c) => makeTraceActors(c.traceActorIdleMs))).pipe(
    Layer.provide(LiveFeed.Live)
  )
}
