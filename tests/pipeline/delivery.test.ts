import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"
import { startSink } from "../support/sink.ts"
import type { Sink } from "../support/sink.ts"

const SECRET = "delivery-secret-of-24-bytes+"
let app: TestApp
const sinks: Array<Sink> = []
beforeAll(async () => {
  app = await startApp()
})
afterAll(async () => {
  await app.close()
  await Promise.all(sinks.map((s) => s.close()))
})

const sink = async () => {
  const s = await startSink(SECRET)
  sinks.push(s)
  return s
}

/** A tenant whose metric "probe" over 10 raises a threshold alert about two seconds after the point. */
const tenantWith = (url: string) =>
  app.tenant(["ingest", "query"], {
    windows: { sizeSeconds: 1, allowedLatenessSeconds: 1, idleTimeoutSeconds: 1 },
    thresholds: { probe: { warning: 10 } },
    channels: [{ id: "hook", type: "webhook", url, secret: SECRET }]
  })

const breach = async (key: string) => expect((await call(app, key, "POST", "/api/metrics", { points: [{ name: "probe", value: 20 }] })).status).toBe(202)

const deliveries = (tenantId: string) =>
  app.sql<{ attempt: number; outcome: string; status_code: number | null; message_id: string }>(
    "SELECT attempt, outcome, status_code, message_id FROM alert_deliveries WHERE tenant_id = $1 ORDER BY attempted_at, attempt", [tenantId]
  )

describe("alert delivery", () => {
  it("retries a 5xx with the same webhook-id and records every attempt", async () => {
    const s = await sink()
    s.respondWith([500, { status: 503, retryAfter: "1" }])
    const t = await tenantWith(s.url)
    await breach(t.key)
    const got = await eventually(async () => s.received[0], 20_000)
    expect(got.validSignature).toBe(true)
    expect(got.body.type).toBe("threshold_exceeded")
    expect(new Set(s.attempts.map((a) => a.id))).toEqual(new Set([got.id]))
    const rows = await eventually(async () => {
      const r = await deliveries(t.id)
      return r.length === 3 ? r : undefined
    })
    expect(rows.map((r) => [r.attempt, r.outcome, r.status_code])).toEqual([[1, "retrying", 500], [2, "retrying", 503], [3, "delivered", 200]])
    // Retry-After: 1 was honoured between the second and third attempt
    expect((s.attempts[2]?.at ?? 0) - (s.attempts[1]?.at ?? 0)).toBeGreaterThanOrEqual(900)
  })

  it("does not retry other 4xx, and keeps an exhausted delivery visible as failed", async () => {
    const s = await sink()
    s.respondWith([400])
    const t = await tenantWith(s.url)
    await breach(t.key)
    const rows = await eventually(async () => {
      const r = await deliveries(t.id)
      return r.length === 1 ? r : undefined
    })
    expect(rows[0]).toMatchObject({ attempt: 1, outcome: "failed", status_code: 400 })

    const s2 = await sink()
    s2.respondWith(Array.from({ length: 6 }, () => ({ status: 503, retryAfter: "0" })))
    const t2 = await tenantWith(s2.url)
    await breach(t2.key)
    const exhausted = await eventually(async () => {
      const r = await deliveries(t2.id)
      return r.length === 6 ? r : undefined
    }, 30_000)
    expect(exhausted.map((r) => r.outcome)).toEqual(["retrying", "retrying", "retrying", "retrying", "retrying", "failed"])
    expect(s2.received).toHaveLength(0)
  })

  it("disables a channel that answers 410 Gone", async () => {
    const s = await sink()
    s.respondWith([410])
    const t = await tenantWith(s.url)
    await breach(t.key)
    await eventually(async () => ((await deliveries(t.id))[0]?.outcome === "gone" ? true : undefined))
    // The channel is disabled just after the delivery is recorded: poll, not one read.
    const channels = await eventually(async () => {
      const settings = (await (await app.admin("GET", `/api/admin/tenants/${t.id}/settings`)).json()) as { channels: Array<{ id: string; enabled?: boolean }> }
      return settings.channels[0]?.enabled === false ? settings.channels : undefined
    })
    expect(channels).toEqual([expect.objectContaining({ id: "hook", enabled: false })])
  })

  it("a slow endpoint of one tenant does not delay another tenant's alert", async () => {
    const slow = await sink()
    slow.respondWith(Array.from({ length: 20 }, () => ({ status: 200, delayMs: 3_000 })))
    const fast = await sink()
    const busy = await tenantWith(slow.url)
    const other = await tenantWith(fast.url)
    // Ten alerts at once for the slow tenant: more than the alert stage's delivery slots (8 in tests).
    const points = Array.from({ length: 10 }, (_, i) => ({ name: "probe", value: 20, serviceName: `svc-${i}` }))
    expect((await call(app, busy.key, "POST", "/api/metrics", { points })).status).toBe(202)
    await breach(other.key)
    const got = await eventually(async () => fast.received[0], 20_000)
    // The other tenant's alert arrived while the slow endpoint had not finished a single response.
    expect(slow.attempts).toHaveLength(0)
    expect(got.validSignature).toBe(true)
    await eventually(async () => (slow.attempts.length >= 10 ? true : undefined), 60_000)
  }, 90_000)
})
