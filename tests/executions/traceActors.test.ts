import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { LiveFeed } from "../../src/executions/LiveFeed.ts"
import { makeTraceActors } from "../../src/executions/TraceActors.ts"
import type { ExecutionJob } from "../../src/executions/liveState.ts"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"
import { openLive } from "../support/live.ts"

const startBody = { operationName: "plan-trip", serviceName: "planner-agent", context: { contextId: "c1", userId: "u1" } }

/** The active trace actors /metrics reports for the app's process. */
const activeActors = async (app: TestApp) => {
  const text = await fetch(`${app.baseUrl}/metrics`).then((r) => r.text())
  const m = /^mplp_trace_actors_active(?:\{[^}]*\})? (\d+)/m.exec(text)
  return m === null ? 0 : Number(m[1])
}
const actorsBecome = (app: TestApp, n: number, timeoutMs = 15_000) =>
  eventually(async () => ((await activeActors(app)) === n ? true : undefined), timeoutMs, 50)

const startExecution = async (app: TestApp, key: string) => {
  const res = await call(app, key, "POST", "/api/executions", startBody)
  expect(res.status).toBe(201)
  return ((await res.json()) as { executionId: string }).executionId
}
const statusOf = async (app: TestApp, tenantId: string, id: string) =>
  (await app.sql<{ status: string; progress_percentage: number | null }>("SELECT status, progress_percentage FROM executions WHERE tenant_id = $1 AND execution_id = $2", [tenantId, id]))[0]

describe("trace actors, passivated when idle", () => {
  let app: TestApp
  beforeAll(async () => {
    app = await startApp({}, { MPLP_TRACE_ACTOR_IDLE_MS: "1500" })
  })
  afterAll(async () => {
    await app.close()
  })

  it("the first event activates an execution's actor; without events it is passivated after MPLP_TRACE_ACTOR_IDLE_MS, and a later event activates it again", async () => {
    const t = await app.tenant()
    expect(await activeActors(app)).toBe(0)
    const id = await startExecution(app, t.key)
    await actorsBecome(app, 1)
    await actorsBecome(app, 0) // idle
    // The execution is still running: passivation only let its actor go.
    expect((await statusOf(app, t.id, id))?.status).toBe("active")
    expect((await call(app, t.key, "PATCH", `/api/executions/${id}`, { progressPercentage: 30 })).status).toBe(202)
    await actorsBecome(app, 1)
    await eventually(async () => ((await statusOf(app, t.id, id))?.progress_percentage === 30 ? true : undefined))
    await actorsBecome(app, 0)
  }, 60_000)
})

describe("trace actors", () => {
  let app: TestApp
  beforeAll(async () => {
    app = await startApp({}, { MPLP_TRACE_ACTOR_IDLE_MS: "600000" })
  })
  afterAll(async () => {
    await app.close()
  })

  it("finishing an execution passivates its actor at once; another running execution keeps its own", async () => {
    const t = await app.tenant()
    const done = await startExecution(app, t.key)
    const running = await startExecution(app, t.key)
    await actorsBecome(app, 2)
    expect((await call(app, t.key, "POST", `/api/executions/${done}/finish`, { success: true })).status).toBe(202)
    await actorsBecome(app, 1) // long before the 10 minutes of idleness
    expect((await statusOf(app, t.id, done))?.status).toBe("completed")
    expect((await statusOf(app, t.id, running))?.status).toBe("active")
    expect((await call(app, t.key, "POST", `/api/executions/${running}/finish`, { success: false })).status).toBe(202)
    await actorsBecome(app, 0)
  }, 60_000)

  it("a defect in one trace actor restarts it with its state read back from the database; the tenant's other actor keeps its state and keeps working", async () => {
    const t = await app.tenant()
    const traceId = () => randomBytes(16).toString("hex")
    const broken = traceId()
    const healthy = traceId()
    await app.sql(
      `INSERT INTO executions (tenant_id, trace_id, execution_id, span_id, operation_name, service_name, status, source, start_time, last_seq, progress_percentage, current_operation)
       VALUES ($1, $2, $2, $3, 'op', 'svc', 'active', 'api', now(), 2, 55, 'stored step')`, [t.id, broken, randomBytes(8).toString("hex")]
    )
    const now = Date.now()
    const start = (id: string): ExecutionJob => ({
      _tag: "execution-start", tenantId: t.id, receivedAtMs: now, traceId: id, spanId: "1".repeat(16), parentSpanId: null, startTimeMs: now,
      request: { ...startBody, traceFlags: 1 }
    })
    const update = (id: string, seq: number, progressPercentage: number): ExecutionJob => ({
      _tag: "execution-update", tenantId: t.id, receivedAtMs: now, traceId: id, seq, update: { progressPercentage }
    })
    const applied = Effect.succeed({ applied: true, points: [] })
    // What the actors hold is seen where users see it: the changes they publish on the live view.
    const live = await openLive(app, t.key)
    const change = (id: string, n: number) => live.until(() => live.events.filter((e) => e.data.execution.executionId === id)[n])
    const program = Effect.gen(function* () {
      const actors = yield* makeTraceActors(600_000)
      yield* actors.submit(t.id, start(healthy), applied)
      yield* actors.submit(t.id, update(broken, 3, 60), applied)
      // Activated by a later step: its state is read back from its row.
      expect((yield* Effect.promise(() => change(broken, 0))).data.execution).toMatchObject({ progressPercentage: 55, currentOperation: "stored step" })
      // The bug: applying this step of `broken` dies; its job sees the defect (and would be retried).
      const died = yield* Effect.exit(actors.submit(t.id, update(broken, 4, 70), Effect.dieMessage("injected bug")))
      expect(died._tag).toBe("Failure")
      // The other execution's actor kept its live state (from its start, never stored) and applies its next step.
      yield* actors.submit(t.id, update(healthy, 2, 20), applied)
      expect((yield* Effect.promise(() => change(healthy, 1))).data.execution).toMatchObject({ status: "active", progressPercentage: 20, currentOperation: null })
      // The restarted actor reads its state back from the execution's row on its next step, and goes on.
      yield* actors.submit(t.id, update(broken, 5, 80), applied)
      expect((yield* Effect.promise(() => change(broken, 1))).data.execution).toMatchObject({ progressPercentage: 55, currentOperation: "stored step" })
      const metrics = yield* Effect.promise(() => fetch(`${app.baseUrl}/metrics`).then((r) => r.text()))
      expect(metrics).toMatch(/mplp_actor_restarts(_total)?\{[^}]*kind="trace"[^}]*\} 1/)
    })
    await app.runtime.runPromise(Effect.scoped(program.pipe(Effect.provide(LiveFeed.Live)))).finally(() => live.close())
  }, 60_000)
})
