import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { randomBytes } from "node:crypto"
import { TenantSupervisor } from "../../src/executions/TenantSupervisor.ts"
import { TraceRegistry } from "../../src/executions/TraceRegistry.ts"
import { eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"

let app: TestApp
beforeAll(async () => {
  app = await startApp({ stages: ["alert"] })
})
afterAll(async () => {
  await app.close()
})

const openExecution = async (tenantId: string) => {
  const traceId = randomBytes(16).toString("hex")
  await app.sql(
    `INSERT INTO executions (tenant_id, trace_id, execution_id, span_id, operation_name, service_name, status, start_time, last_seq)
     VALUES ($1, $2, $2, $3, 'op', 'svc', 'active', now(), 1)`, [tenantId, traceId, randomBytes(8).toString("hex")]
  )
  return traceId
}
const rowOf = async (tenantId: string, traceId: string) =>
  (await app.sql<{ status: string; end_time: Date | null }>("SELECT status, end_time FROM executions WHERE tenant_id = $1 AND trace_id = $2", [tenantId, traceId]))[0]
const statusOf = async (tenantId: string, traceId: string) =>
  (await app.sql<{ status: string }>("SELECT status FROM executions WHERE tenant_id = $1 AND trace_id = $2", [tenantId, traceId]))[0]?.status

/** Runs `program` with a supervisor of its own on the real registry, as one process would. */
const withActors = <A, E>(program: Effect.Effect<A, E, TenantSupervisor | TraceRegistry>) =>
  app.runtime.runPromise(Effect.scoped(program.pipe(Effect.provide(TenantSupervisor.Live.pipe(Layer.provideMerge(TraceRegistry.Live))))))

/** An execution due `inMs` from now that a process claimed with a lease of `leaseMs` and then died holding. */
const claimedByDeadProcess = (tenantId: string, traceId: string, inMs: number, leaseMs: number) =>
  Effect.gen(function* () {
    const registry = yield* TraceRegistry
    const deadline = Date.now() + inMs
    yield* registry.touch(tenantId, traceId, deadline)
    expect(yield* registry.claimDue(tenantId, deadline, 500, leaseMs)).toEqual([traceId])
    return deadline
  })

describe("tenant actors", () => {
  it("a defect in one tenant's actor restarts it with back-off; another tenant's traces time out meanwhile", async () => {
    const bad = await app.tenant()
    const good = await app.tenant()
    let failures = 0
    // The real registry on the real Redis, with a bug injected for one tenant: its first three reads die.
    const Faulty = Layer.effect(
      TraceRegistry,
      Effect.map(TraceRegistry, (real) => ({
        ...real,
        open: (tenantId: string) =>
          tenantId === bad.id && failures < 3 ? Effect.sync(() => failures++).pipe(Effect.zipRight(Effect.dieMessage("injected bug"))) : real.open(tenantId)
      }))
    ).pipe(Layer.provide(TraceRegistry.Live))
    const badTrace = await openExecution(bad.id)
    const goodTrace = await openExecution(good.id)
    const program = Effect.gen(function* () {
      const registry = yield* TraceRegistry
      const supervisor = yield* TenantSupervisor
      const soon = Date.now() + 1_500
      yield* registry.touch(bad.id, badTrace, soon)
      yield* registry.touch(good.id, goodTrace, soon)
      yield* supervisor.notify(bad.id, { _tag: "Opened", traceId: badTrace })
      yield* supervisor.notify(good.id, { _tag: "Opened", traceId: goodTrace })
      yield* Effect.promise(() => eventually(async () => ((await statusOf(good.id, goodTrace)) === "timed_out" ? true : undefined), 10_000, 100))
      // the good tenant's trace timed out while the bad tenant's actor was still restarting
      expect(failures).toBeGreaterThanOrEqual(1)
      yield* Effect.promise(() => eventually(async () => ((await statusOf(bad.id, badTrace)) === "timed_out" ? true : undefined), 15_000, 100))
      expect(failures).toBe(3)
      const metrics = yield* Effect.promise(() => fetch(`${app.baseUrl}/metrics`).then((r) => r.text()))
      expect(metrics).toMatch(/mplp_actor_restarts(_total)?\{[^}]*kind="tenant"[^}]*\} 3/)
    })
    await app.runtime.runPromise(Effect.scoped(program.pipe(Effect.provide(TenantSupervisor.Live.pipe(Layer.provideMerge(Faulty))))))
  }, 60_000)

  it("an execution whose deadline an update extended is not timed out at the old deadline", async () => {
    const t = await app.tenant()
    const here = await openExecution(t.id) // its update is seen by this process's actor
    const elsewhere = await openExecution(t.id) // its update went to another process: only Redis knows
    const program = Effect.gen(function* () {
      const registry = yield* TraceRegistry
      const supervisor = yield* TenantSupervisor
      const first = Date.now() + 1_500 // the margins hold on a loaded machine (two test files at once on two cores)
      for (const id of [here, elsewhere]) {
        yield* registry.touch(t.id, id, first)
        yield* supervisor.notify(t.id, { _tag: "Opened", traceId: id, deadlineMs: first })
      }
      yield* Effect.sleep("300 millis")
      const later = Date.now() + 2_500
      yield* registry.touch(t.id, here, later)
      yield* supervisor.notify(t.id, { _tag: "Opened", traceId: here, deadlineMs: later })
      yield* registry.touch(t.id, elsewhere, later)
      yield* Effect.sleep(Math.max(0, first + 500 - Date.now())) // well past the first deadline
      expect(yield* Effect.promise(() => statusOf(t.id, here))).toBe("active")
      expect(yield* Effect.promise(() => statusOf(t.id, elsewhere))).toBe("active")
      expect((yield* supervisor.stats).openTraces).toBe(2)
      for (const id of [here, elsewhere]) {
        const row = yield* Effect.promise(() => eventually(async () => {
          const r = await rowOf(t.id, id)
          return r?.status === "timed_out" ? r : undefined
        }, 10_000, 100))
        expect(new Date(row.end_time ?? 0).getTime()).toBeGreaterThanOrEqual(later)
      }
      yield* Effect.promise(() => eventually(async () => ((await app.runtime.runPromise(supervisor.stats)).tenants === 0 ? true : undefined), 5_000, 50))
    })
    await withActors(program)
  }, 30_000)

  it("many open executions across tenants and two processes' actors time out exactly once each, none before its deadline", async () => {
    const tenants = [await app.tenant(), await app.tenant(), await app.tenant()]
    const claims: Array<string> = []
    const program = Effect.gen(function* () {
      const real = yield* TraceRegistry
      // The real registry, recording every claim (the actors' and the sweepers').
      const counting = {
        ...real,
        claimDue: (tenantId: string, nowMs: number, limit?: number) => real.claimDue(tenantId, nowMs, limit).pipe(Effect.tap((ids) => Effect.sync(() => claims.push(...ids))))
      }
      const supervisorOf = Layer.build(TenantSupervisor.Live.pipe(Layer.provide(Layer.succeed(TraceRegistry, counting)))).pipe(Effect.map(Context.get(TenantSupervisor)))
      const a = yield* supervisorOf
      const b = yield* supervisorOf
      const deadlines = new Map<string, { tenantId: string; at: number }>()
      // The rows first: on a loaded machine their inserts may take longer than the first deadline.
      const opened = yield* Effect.promise(() => Promise.all(tenants.map(async (t) => {
        const ids: Array<string> = []
        for (let i = 0; i < 30; i++) ids.push(await openExecution(t.id))
        return ids
      })))
      const t0 = Date.now()
      for (const [n, t] of tenants.entries()) {
        for (let i = 0; i < 30; i++) {
          const id = opened[n]![i]!
          const at = t0 + 1_000 + Math.floor(Math.random() * 1_500)
          deadlines.set(id, { tenantId: t.id, at })
          yield* real.touch(t.id, id, at)
          // Every execution is watched in process A; a third also in B, a third without a deadline in the event.
          yield* a.notify(t.id, i % 3 === 2 ? { _tag: "Opened", traceId: id } : { _tag: "Opened", traceId: id, deadlineMs: at })
          if (i % 3 === 0) yield* b.notify(t.id, { _tag: "Opened", traceId: id, deadlineMs: at })
        }
      }
      expect((yield* a.stats).openTraces).toBe(90)
      const rows = yield* Effect.promise(() => eventually(async () => {
        const r = await app.sql<{ trace_id: string; status: string; end_time: Date | null }>(
          "SELECT trace_id, status, end_time FROM executions WHERE tenant_id = ANY($1)", [tenants.map((t) => t.id)]
        )
        return r.length === 90 && r.every((x) => x.status === "timed_out") ? r : undefined
      }, 20_000, 100))
      for (const r of rows) expect(new Date(r.end_time ?? 0).getTime()).toBeGreaterThanOrEqual(deadlines.get(r.trace_id)!.at)
      expect(claims.filter((id) => deadlines.has(id)).sort()).toEqual([...deadlines.keys()].sort())
      yield* Effect.promise(() => eventually(async () => {
        const [sa, sb] = await Promise.all([app.runtime.runPromise(a.stats), app.runtime.runPromise(b.stats)])
        return sa.openTraces === 0 && sb.openTraces === 0 && sa.tenants === 0 && sb.tenants === 0 ? true : undefined
      }, 5_000, 50))
    })
    await app.runtime.runPromise(Effect.scoped(program.pipe(Effect.provide(TraceRegistry.Live))))
  }, 60_000)

  it("an execution claimed by a process that died before timing it out is timed out once the claim lapses", async () => {
    const t = await app.tenant()
    const id = await openExecution(t.id)
    const program = Effect.gen(function* () {
      const registry = yield* TraceRegistry
      // The dead process: it claimed the due execution with a 1 s lease, then never timed it out.
      const deadline = yield* claimedByDeadProcess(t.id, id, 300, 1_000)
      const supervisor = yield* TenantSupervisor
      yield* supervisor.notify(t.id, { _tag: "Opened", traceId: id, deadlineMs: deadline })
      yield* Effect.sleep("800 millis")
      // Past its deadline, but still claimed: nobody else times it out yet.
      expect(yield* Effect.promise(() => statusOf(t.id, id))).toBe("active")
      const row = yield* Effect.promise(() => eventually(async () => {
        const r = await rowOf(t.id, id)
        return r?.status === "timed_out" ? r : undefined
      }, 15_000, 100))
      expect(new Date(row.end_time ?? 0).getTime()).toBeGreaterThanOrEqual(deadline + 1_000)
      // Settled (just after the row is committed): nothing is left to claim, and the tenant leaves the sweeper's set.
      yield* Effect.promise(() => eventually(async () => ((await Effect.runPromise(registry.claimDue(t.id, Date.now() + 120_000))).length === 0 ? true : undefined), 5_000, 100))
      expect(yield* registry.tenantsWithOpenTraces).not.toContain(t.id)
    })
    await withActors(program)
  }, 30_000)

  it("an execution whose claimer died after marking it timed out but before raising the alert gets its alert, once", async () => {
    const t = await app.tenant()
    const id = await openExecution(t.id)
    const program = Effect.gen(function* () {
      const registry = yield* TraceRegistry
      // The dead process: it claimed the execution and committed the time-out, then died.
      const deadline = yield* claimedByDeadProcess(t.id, id, 200, 500)
      yield* Effect.promise(() => app.sql("UPDATE executions SET status = 'timed_out', end_time = now() WHERE tenant_id = $1 AND trace_id = $2", [t.id, id]))
      const supervisor = yield* TenantSupervisor
      yield* supervisor.notify(t.id, { _tag: "Opened", traceId: id, deadlineMs: deadline })
      const alerts = yield* Effect.promise(() => eventually(async () => {
        const r = await app.sql<{ type: string; trace_id: string }>("SELECT type, trace_id FROM alerts WHERE tenant_id = $1", [t.id])
        return r.length > 0 ? r : undefined
      }, 15_000, 100))
      expect(alerts).toEqual([{ type: "execution_timeout", trace_id: id }])
      // Claimed again (the lease lapsed) by a later process: the alert is not raised twice.
      yield* registry.touch(t.id, id, Date.now())
      yield* supervisor.notify(t.id, { _tag: "Opened", traceId: id, deadlineMs: Date.now() })
      yield* Effect.promise(() => eventually(async () => ((await app.runtime.runPromise(supervisor.stats)).openTraces === 0 ? true : undefined), 5_000, 50))
      yield* Effect.sleep("1 second")
      expect(yield* Effect.promise(() => app.sql("SELECT type FROM alerts WHERE tenant_id = $1", [t.id]))).toEqual([{ type: "execution_timeout" }])
      expect(yield* Effect.promise(() => app.sql("SELECT event_type FROM alert_notifications WHERE tenant_id = $1", [t.id]))).toEqual([{ event_type: "execution_timeout" }])
    })
    await withActors(program)
  }, 30_000)

  it("a tenant costs nothing once its executions are finished", async () => {
    const t = await app.tenant()
    const program = Effect.gen(function* () {
      const registry = yield* TraceRegistry
      const supervisor = yield* TenantSupervisor
      const ids = [yield* Effect.promise(() => openExecution(t.id)), yield* Effect.promise(() => openExecution(t.id))]
      for (const id of ids) {
        yield* registry.touch(t.id, id, Date.now() + 60_000)
        yield* supervisor.notify(t.id, { _tag: "Opened", traceId: id, deadlineMs: Date.now() + 60_000 })
      }
      yield* Effect.promise(() => eventually(async () => ((await app.runtime.runPromise(supervisor.stats)).actors === 0 ? true : undefined), 5_000, 20))
      expect(yield* supervisor.stats).toEqual({ tenants: 1, actors: 0, openTraces: 2 })
      // A settings change re-reads the open executions from Redis; nothing is lost or doubled.
      yield* supervisor.reload(t.id)
      yield* Effect.promise(() => eventually(async () => ((await app.runtime.runPromise(supervisor.stats)).actors === 0 ? true : undefined), 5_000, 20))
      expect(yield* supervisor.stats).toEqual({ tenants: 1, actors: 0, openTraces: 2 })
      for (const id of ids) {
        yield* registry.close(t.id, id)
        yield* supervisor.notify(t.id, { _tag: "Closed", traceId: id })
      }
      expect(yield* supervisor.stats).toEqual({ tenants: 0, actors: 0, openTraces: 0 })
    })
    await withActors(program)
  }, 30_000)
})
