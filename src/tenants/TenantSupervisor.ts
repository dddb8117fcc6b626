import { Clock, Context, Duration, Effect, FiberMap, Layer, Option, Queue, Schedule, Schema } from "effect"
import { Db } from "../db/Db.ts"
import { AlertJob } from "../domain/pipeline.ts"
import { makeQueue } from "../queues/Queues.ts"
import { Telemetry } from "../telemetry/Telemetry.ts"
import { TraceRegistry } from "./TraceRegistry.ts"

/** What a tenant actor hears about its executions (the durable part is already in the TraceRegistry). */
export type TraceEvent =
  | { readonly _tag: "Opened"; readonly traceId: string }
  | { readonly _tag: "Closed"; readonly traceId: string }

const encodeAlert = Schema.encodeSync(AlertJob)
const MAILBOX = 1024
const ACTOR_IDLE = Duration.minutes(5)

const makeSupervisor = Effect.gen(function* () {
  const db = yield* Db
  const registry = yield* TraceRegistry
  const telemetry = yield* Telemetry
  const alerts = yield* makeQueue("alert")
  const actors = yield* FiberMap.make<string>()
  const mailboxes = new Map<string, Queue.Queue<TraceEvent>>()
  let openTraceFibers = 0

  /** Marks the execution timed out (if still open) and raises an execution_timeout alert, once. */
  const timeOut = (tenantId: string, traceId: string) =>
    Effect.gen(function* () {
      const rows = yield* db.query<{ service_name: string; operation_name: string; start_time: Date }>(
        `UPDATE executions SET status = 'timed_out', end_time = now(), duration_ms = extract(epoch FROM (now() - start_time)) * 1000,
                updated_at = now(), current_operation = NULL
         WHERE tenant_id = $1 AND trace_id = $2 AND status IN ('active', 'paused')
         RETURNING service_name, operation_name, start_time`, [tenantId, traceId]
      )
      const row = rows[0]
      if (row === undefined) return
      const payload = { traceId, serviceName: row.service_name, operationName: row.operation_name, startTime: new Date(row.start_time).toISOString() }
      yield* Effect.tryPromise(() =>
        alerts.add("event", encodeAlert({ _tag: "event", tenantId, eventType: "execution_timeout", key: traceId, payload }), { jobId: `${tenantId}.timeout-${traceId}` })
      )
      yield* Effect.logInfo(`execution ${traceId} timed out`).pipe(Effect.annotateLogs({ tenantId }))
    })

  /** A trace actor: sleeps until its execution's idle deadline; ends on finish, or times the execution out. */
  const traceActor = (tenantId: string, traceId: string) =>
    Effect.gen(function* () {
      for (;;) {
        const deadline = yield* registry.deadline(tenantId, traceId)
        if (deadline === undefined) return
        const now = yield* Clock.currentTimeMillis
        if (deadline > now) {
          yield* Effect.sleep(Duration.millis(deadline - now))
          continue
        }
        if (yield* registry.claimOne(tenantId, traceId, now)) yield* timeOut(tenantId, traceId)
        return
      }
    }).pipe(
      Effect.ensuring(Effect.sync(() => openTraceFibers--)),
      Effect.catchAllCause((c) => Effect.logWarning(`trace actor ${traceId} failed; the sweeper will time it out`, c))
    )

  /** A tenant actor: owns its mailbox and its executions' trace actors; stops when idle with nothing open. */
  const tenantActor = (tenantId: string, mailbox: Queue.Queue<TraceEvent>) =>
    Effect.gen(function* () {
      const traces = yield* FiberMap.make<string>()
      const spawn = (traceId: string) =>
        Effect.suspend(() => {
          openTraceFibers++
          return FiberMap.run(traces, traceId, traceActor(tenantId, traceId), { onlyIfMissing: true })
        })
      // After a restart (or in a new process) the open executions are read back from Redis.
      for (const t of yield* registry.open(tenantId)) yield* spawn(t.traceId)
      for (;;) {
        const next = yield* Queue.take(mailbox).pipe(Effect.timeoutOption(ACTOR_IDLE))
        if (Option.isNone(next)) {
          const idle = (yield* FiberMap.size(traces)) === 0 && (yield* Queue.size(mailbox)) === 0
          if (idle && mailboxes.get(tenantId) === mailbox) {
            mailboxes.delete(tenantId)
            return
          }
          continue
        }
        const event = next.value
        if (event._tag === "Opened") yield* spawn(event.traceId)
        else yield* FiberMap.remove(traces, event.traceId)
      }
    }).pipe(Effect.scoped)

  const supervised = (tenantId: string, mailbox: Queue.Queue<TraceEvent>) =>
    tenantActor(tenantId, mailbox).pipe(
      Effect.catchAllDefect((d) => Effect.fail(d)),
      Effect.tapErrorCause((c) =>
        Effect.zipRight(Effect.sync(() => telemetry.actorRestarts.add(1, { kind: "tenant" })), Effect.logWarning("tenant actor failed; restarting", c))
      ),
      Effect.retry(Schedule.exponential(Duration.millis(200)).pipe(Schedule.union(Schedule.spaced(Duration.seconds(30))))),
      Effect.annotateLogs({ tenantId }),
      Effect.ignore
    )

  /** Delivers an event to the tenant's actor, starting it on first use. Never blocks on another tenant. */
  const notify = (tenantId: string, event: TraceEvent) =>
    Effect.gen(function* () {
      let mailbox = mailboxes.get(tenantId)
      if (mailbox === undefined) {
        mailbox = yield* Queue.bounded<TraceEvent>(MAILBOX)
        mailboxes.set(tenantId, mailbox)
        yield* FiberMap.run(actors, tenantId, supervised(tenantId, mailbox))
      } else if (!(yield* FiberMap.has(actors, tenantId))) {
        yield* FiberMap.run(actors, tenantId, supervised(tenantId, mailbox))
      }
      yield* Queue.offer(mailbox, event)
    })

  /** Restarts a tenant's actor (settings changed): its trace actors are rebuilt from the registry. */
  const reload = (tenantId: string) =>
    Effect.gen(function* () {
      const mailbox = mailboxes.get(tenantId)
      if (mailbox === undefined) return
      yield* FiberMap.run(actors, tenantId, supervised(tenantId, mailbox))
    })

  // Executions whose trace actor died with its process: claimed by whoever sees them due first.
  yield* registry.tenantsWithOpenTraces.pipe(
    Effect.flatMap((tenants) =>
      Effect.forEach(tenants, (tenantId) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => registry.claimDue(tenantId, now - 2_000)).pipe(
          Effect.flatMap((ids) => Effect.forEach(ids, (id) => timeOut(tenantId, id), { discard: true }))
        ), { discard: true })
    ),
    Effect.catchAllCause((c) => Effect.logWarning("trace sweep failed", c)),
    Effect.repeat(Schedule.spaced(Duration.seconds(5))),
    Effect.forkScoped
  )

  return {
    notify,
    reload,
    stats: Effect.sync(() => ({ tenants: mailboxes.size, openTraces: openTraceFibers }))
  } as const
})

export class TenantSupervisor extends Context.Tag("tenants/TenantSupervisor")<TenantSupervisor, Effect.Effect.Success<typeof makeSupervisor>>() {
  static readonly Live = Layer.scoped(TenantSupervisor, makeSupervisor)
}
