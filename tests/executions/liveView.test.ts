import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { RedisConnection } from "../../src/queues/Redis.ts"
import { call, eventually, startApp } from "../support/harness.ts"
import { openLive as openLiveOf } from "../support/live.ts"
import type { TestApp } from "../support/harness.ts"

let app: TestApp
beforeAll(async () => {
  app = await startApp()
})
afterAll(async () => {
  await app.close()
})

const openLive = (key: string, headers: Record<string, string> = {}) => openLiveOf(app, key, headers)

const start = async (key: string, operationName: string) => {
  const res = await call(app, key, "POST", "/api/executions", { operationName, serviceName: "planner", context: { contextId: "c", userId: "u" } })
  expect(res.status).toBe(201)
  return ((await res.json()) as { executionId: string }).executionId
}

describe("live view of running executions (SSE)", () => {
  it("streams a running execution's start, updates and finish in order, to its tenant only; Last-Event-ID resumes after an event", async () => {
    const a = await app.tenant(["ingest", "query"])
    const b = await app.tenant(["ingest", "query"])
    const liveA = await openLive(a.key)
    const liveB = await openLive(b.key, { authorization: `Bearer ${b.key}` })
    const id = await start(a.key, "plan-trip")
    const ofA = (kind: string) => () => liveA.events.find((e) => e.data.execution.executionId === id && e.event === kind)
    const started = await liveA.until(ofA("start"))
    expect(started.data.execution).toMatchObject({ status: "active", progressPercentage: null })
    expect((await call(app, a.key, "PATCH", `/api/executions/${id}`, {
      progressPercentage: 40, currentOperation: "searching flights", metrics: { tokens: 120 },
      events: [{ eventName: "tool-call", eventType: "tool", timestamp: new Date().toISOString() }]
    })).status).toBe(202)
    const updated = await liveA.until(ofA("update"))
    expect(updated.data.execution).toMatchObject({ status: "active", progressPercentage: 40, currentOperation: "searching flights", metrics: { tokens: 120 }, lastEvents: [{ eventName: "tool-call" }] })
    expect((await call(app, a.key, "POST", `/api/executions/${id}/finish`, { success: true })).status).toBe(202)
    const finished = await liveA.until(ofA("finish"))
    expect(finished.data.execution).toMatchObject({ status: "completed", progressPercentage: 100, currentOperation: null })
    expect(liveA.events.filter((e) => e.data.execution.executionId === id).map((e) => e.event)).toEqual(["start", "update", "finish"])

    // The other tenant saw none of it: the first event it gets is its own execution's.
    const own = await start(b.key, "other-tenant")
    await liveB.until(() => liveB.events.find((e) => e.data.execution.executionId === own))
    expect(liveB.events.map((e) => e.data.execution.executionId)).toEqual([own])
    await liveA.close()
    await liveB.close()

    // Resumed after the start: the update and the finish, nothing before them.
    const resumed = await openLive(a.key, { "last-event-id": started.id })
    await resumed.until(() => (resumed.events.length >= 2 ? true : undefined))
    expect(resumed.events.map((e) => [e.event, e.id])).toEqual([["update", updated.id], ["finish", finished.id]])
    await resumed.close()
    // A reader that went away gives its Redis connection back.
    const liveConnections = () =>
      app.runtime.runPromise(Effect.flatMap(RedisConnection, (r) => Effect.promise(() => r.client.call("CLIENT", "LIST") as Promise<string>))).then(
        (list) => list.split("\n").filter((l) => l.includes(`name=mplp:live:${a.id}`) || l.includes(`name=mplp:live:${b.id}`)).length
      )
    await eventually(async () => ((await liveConnections()) === 0 ? true : undefined), 10_000)
  }, 60_000)

  it("refuses a caller without a key (401), a key without the query scope (403) and a malformed Last-Event-ID (400, naming it)", async () => {
    const t = await app.tenant(["ingest"])
    const q = await app.tenant(["query"])
    expect((await fetch(`${app.baseUrl}/api/executions/live`)).status).toBe(401)
    expect((await fetch(`${app.baseUrl}/api/executions/live`, { headers: { "x-api-key": t.key } })).status).toBe(403)
    const bad = await fetch(`${app.baseUrl}/api/executions/live`, { headers: { "x-api-key": q.key, "last-event-id": "yesterday" } })
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({ issues: [{ path: "Last-Event-ID" }] })
  }, 30_000)
})
