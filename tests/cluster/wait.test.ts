import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { call, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"

// MPLP_REDIS_WAIT_REPLICAS on the machine's single Redis, which has no replica: no enqueue can be
// confirmed as replicated, so none is acknowledged.
let app: TestApp

beforeAll(async () => {
  app = await startApp({ stages: [] }, { MPLP_REDIS_WAIT_REPLICAS: "1", MPLP_REDIS_WAIT_TIMEOUT_MS: "100" })
})
afterAll(async () => {
  await app?.close()
})

describe("acknowledged means replicated (MPLP_REDIS_WAIT_REPLICAS)", () => {
  it("a batch the replicas did not confirm within the timeout is answered 503 with Retry-After, also on a retry with the same Idempotency-Key", async () => {
    const t = await app.tenant(["ingest"])
    const points = [{ name: "work", value: 1, time: Date.now() - 1000 }]
    for (let i = 0; i < 2; i++) {
      const t0 = Date.now()
      const res = await call(app, t.key, "POST", "/api/metrics", { points }, { "idempotency-key": "k1" })
      expect(res.status).toBe(503)
      expect(res.headers.get("retry-after")).toBe("2")
      expect(((await res.json()) as { message: string }).message).toMatch(/reached 0 of 1 Redis replicas within 100 ms/)
      expect(Date.now() - t0).toBeGreaterThanOrEqual(100)
    }
  })
})
