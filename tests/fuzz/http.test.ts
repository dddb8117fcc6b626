import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { ADMIN_TOKEN, call, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"
import { drained, withIngestQueue } from "../api/queue.ts"
import { httpCase, send } from "./http.ts"
import type { Targets } from "./http.ts"

// A bounded run of the HTTP fuzzer against the real server (`npm run fuzz -- --target http` runs more):
// mutations of valid requests to every endpoint that takes a body, and the read endpoints' query strings.

let app: TestApp
beforeAll(async () => {
  app = await startApp()
})
afterAll(async () => {
  await app.close()
})

describe("every endpoint under generated requests", () => {
  it("answers no 5xx, and every batch it accepted is stored without a failing job", async () => {
    const t = await app.tenant(["ingest", "query"], { quotas: { requestsPerSecond: 1_000_000, pointsPerSecond: 100_000_000, bytesPerSecond: 10_000_000_000 } })
    const victim = await app.tenant()
    const started = await call(app, t.key, "POST", "/api/executions", { operationName: "fuzz", serviceName: "fuzz", context: { contextId: "c", userId: "u" } })
    const targets: Targets = { traceId: ((await started.json()) as { traceId: string }).traceId, victim: victim.id }
    const statuses = new Map<number, number>()
    await fc.assert(fc.asyncProperty(httpCase(targets), async (c) => {
      const status = await send(app.baseUrl, { tenant: t.key, admin: ADMIN_TOKEN }, c)
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
      expect(status, `${c.method} ${c.path.slice(0, 200)}`).toBeLessThan(500)
    }), { numRuns: 300 })
    // Some of it was accepted (the rest refused), and all of that went through the pipeline.
    expect([...statuses.keys()].some((s) => s >= 200 && s < 300)).toBe(true)
    await drained(app, 60_000)
    expect(await withIngestQueue(app, (q) => q.getJobCounts("failed"))).toEqual({ failed: 0 })
  }, 120_000)
})
