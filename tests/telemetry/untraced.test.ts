import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { randomUUID } from "node:crypto"
import { withIngestQueue } from "../api/queue.ts"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"

// The service's own spans cost the pipeline a few µs per ingested span. Made only when something takes
// them (OTEL_EXPORTER_OTLP_ENDPOINT or MPLP_SELF_TENANT): without either, none is recorded, and the jobs a
// request enqueues carry no traceparent of it. With MPLP_SELF_TENANT they do (tests/telemetry/selfTrace.test.ts
// follows one such trace through the stages).

let quiet: TestApp
let traced: TestApp

beforeAll(async () => {
  quiet = await startApp()
  traced = await startApp({}, { MPLP_SELF_TENANT: `self${randomUUID().replace(/-/g, "").slice(0, 12)}` })
})
afterAll(async () => {
  await quiet?.close()
  await traced?.close()
})

/** Whether a span made in the app's runtime is recorded, and the traceparent the ingest job of one POST /api/metrics carries. */
const observe = async (app: TestApp) => {
  const sampled = await app.runtime.runPromise(Effect.withSpan(Effect.map(Effect.currentSpan, (s) => s.sampled), "probe"))
  const t = await app.tenant(["ingest"])
  const res = await call(app, t.key, "POST", "/api/metrics", { points: [{ name: "cpu", value: 1, serviceName: "checkout" }] })
  expect(res.status).toBe(202)
  const data = await eventually(() =>
    withIngestQueue(app, async (q) => (await q.getJobs(["wait", "active", "completed"])).find((j) => j.id?.startsWith(`${t.id}.`))?.data as Record<string, unknown> | undefined)
  )
  return { sampled, traceparent: data.traceparent }
}

describe("the service's own spans", () => {
  it("are not made when nothing exports them, and are when something does", async () => {
    const off = await observe(quiet)
    expect(off).toEqual({ sampled: false, traceparent: undefined })
    const on = await observe(traced)
    expect(on.sampled).toBe(true)
    expect(on.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
  }, 60_000)
})
