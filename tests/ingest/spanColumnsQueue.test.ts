import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import type { SpanRow } from "../../src/domain/jobs.ts"
import { toSpanColumns } from "../../src/domain/spanColumns.ts"
import { drained, withIngestQueue } from "../api/queue.ts"
import { eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"

// A spans job as another process puts it on the queue: in the row form (an API from before the upgrade),
// or as columns that do not match (refused whole: failed at once, no span stored).

let app: TestApp
beforeAll(async () => {
  app = await startApp()
})
afterAll(async () => {
  await app.close()
})

const spanRow = (traceId: string, i: number): SpanRow => ({
  traceId, spanId: randomBytes(8).toString("hex"), parentSpanId: null, name: `op${i}`, kind: 2, statusCode: 0, statusMessage: null,
  startTimeMs: Date.now() - 1000 + i, endTimeMs: Date.now() - 990 + i, durationMs: 10, serviceName: "queued", scopeName: null,
  resourceAttributes: { "service.name": "queued" }, attributes: { i }, events: [], links: []
})

const stored = async (tenantId: string, traceId: string) =>
  app.sql<{ name: string; service_name: string; resource_attributes: unknown }>(
    "SELECT name, service_name, resource_attributes FROM spans WHERE tenant_id = $1 AND trace_id = $2 ORDER BY name", [tenantId, traceId])

const enqueue = <D extends { readonly tenantId: string }>(name: string, data: D) =>
  withIngestQueue(app, async (q) => (await q.add(name, data, { jobId: `${data.tenantId}.${randomBytes(6).toString("hex")}`, attempts: 3 })).id ?? "")

describe("spans jobs on the ingest queue", () => {
  it("a row-form spans job queued before the upgrade is still stored as before", async () => {
    const t = await app.tenant(["ingest"])
    const traceId = randomBytes(16).toString("hex")
    await enqueue("spans", { _tag: "spans", tenantId: t.id, receivedAtMs: Date.now(), spans: [spanRow(traceId, 0), spanRow(traceId, 1)] })
    const rows = await eventually(async () => {
      const r = await stored(t.id, traceId)
      return r.length === 2 ? r : undefined
    })
    expect(rows).toEqual([0, 1].map((i) => ({ name: `op${i}`, service_name: "queued", resource_attributes: { "service.name": "queued" } })))
  })

  it("a columns job whose columns do not match fails at once as undecodable and stores none of its spans", async () => {
    const t = await app.tenant(["ingest"])
    const traceId = randomBytes(16).toString("hex")
    const good = toSpanColumns({ tenantId: t.id, receivedAtMs: Date.now(), spans: [spanRow(traceId, 0), spanRow(traceId, 1)] })
    const jobId = await enqueue("spans", { ...good, durationMs: good.durationMs.slice(1) })
    const failed = await withIngestQueue(app, (q) => eventually(async () => {
      const job = await q.getJob(jobId)
      return job !== undefined && (await job.getState()) === "failed" ? job : undefined
    }))
    expect(failed.attemptsMade).toBe(1)
    expect(failed.failedReason).toMatch(/payload does not decode/)
    // The same job with matching columns goes through: what failed was the mismatch alone.
    await enqueue("spans", good)
    await drained(app)
    expect((await stored(t.id, traceId)).map((r) => r.name)).toEqual(["op0", "op1"])
  })
})
