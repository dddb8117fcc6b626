import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { randomBytes } from "node:crypto"
import { TenantSupervisor } from "../../src/tenants/TenantSupervisor.ts"
import { TraceRegistry } from "../../src/tenants/TraceRegistry.ts"
import { eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"

let app: TestApp
beforeAll(async () => {
  app = await startApp({ stages: [] })
})
afterAll(async () => {
  await app.close()
})

const openExecution = async (tenantId: string) => {
  const traceId = randomBytes(16).toString("hex")
  await app.sql(
    `INSERT INTO executions (tenant_id, trace_id, span_id, operation_name, service_name, status, start_time, last_seq)
     VALUES ($1, $2, $3, 'op', 'svc', 'active', now(), 1)`, [tenantId, traceId, randomBytes(8).toString("hex")]
  )
  return traceId
}
const statusOf = async (tenantId: string, traceId: string) =>
  (await app.sql<{ status: string }>("SELECT status FROM executions WHERE tenant_id = $1 AND trace_id = $2", [tenantId, traceId]))[0]?.status

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
})
