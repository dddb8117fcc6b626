import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { randomUUID } from "node:crypto"
import type { ChannelTestResult } from "../../src/domain/consoleViews.ts"
import { startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"
import { startSink } from "../support/sink.ts"
import type { Sink } from "../support/sink.ts"

const SECRET = "whsec_dGVzdC1jaGFubmVsLXNlY3JldA=="
let app: TestApp
let sink: Sink
beforeAll(async () => {
  app = await startApp()
  sink = await startSink(SECRET)
})
afterAll(async () => {
  await app.close()
  await sink.close()
})

const newId = () => `c${randomUUID().replace(/-/g, "").slice(0, 12)}`
const json = async <A>(res: Response, status = 200): Promise<A> => {
  expect(res.status).toBe(status)
  return (await res.json()) as A
}

describe("GET /api/admin/tenants and /api/admin/tenants/{id}/keys", () => {
  it("lists every tenant, and a tenant's keys without the key or its hash", async () => {
    const a = await app.tenant()
    const b = await app.tenant(["ingest"])
    const { tenants } = await json<{ tenants: Array<{ id: string; name: string; createdAt: string; settingsSource: string }> }>(await app.admin("GET", "/api/admin/tenants"))
    expect(tenants.filter((t) => t.id === a.id || t.id === b.id).map((t) => t.id)).toEqual([a.id, b.id].sort())
    expect(tenants.find((t) => t.id === a.id)).toMatchObject({ name: a.id, settingsSource: "default" })
    expect((await fetch(`${app.baseUrl}/api/admin/tenants`, { headers: { authorization: `Bearer ${a.key}` } })).status).toBe(401)

    const second = await json<{ keyId: string; key: string }>(await app.admin("POST", `/api/admin/tenants/${a.id}/keys`, { scopes: ["query"], name: "console" }), 201)
    expect((await app.admin("DELETE", `/api/admin/keys/${a.keyId}`)).status).toBe(204)
    const res = await app.admin("GET", `/api/admin/tenants/${a.id}/keys`)
    const text = await res.text()
    expect(res.status).toBe(200)
    for (const secret of [a.key, second.key, a.key.slice(18), second.key.slice(18)]) expect(text).not.toContain(secret)
    expect(text).not.toMatch(/hash/i)
    const { keys } = JSON.parse(text) as { keys: Array<{ keyId: string; name: string | null; scopes: Array<string>; revokedAt: string | null }> }
    expect(keys.map((k) => [k.keyId, k.name, k.scopes, k.revokedAt !== null])).toEqual([
      [a.keyId, null, ["ingest", "query"], true],
      [second.keyId, "console", ["query"], false]
    ])
    expect((await app.admin("GET", `/api/admin/tenants/${newId()}/keys`)).status).toBe(404)
  })
})

describe("POST /api/admin/tenants/{id}/channels/{channelId}/test", () => {
  const tenantWithChannels = () =>
    app.tenant(["ingest", "query"], {
      channels: [
        { id: "hook", type: "webhook", url: sink.url, secret: SECRET, events: ["alert_resolved"] },
        { id: "off", type: "webhook", url: sink.url, secret: SECRET, enabled: false },
        { id: "log", type: "log" }
      ]
    })
  const deliveries = (tenantId: string) =>
    app.sql<{ channel_id: string; event_type: string; attempt: number; outcome: string; status_code: number | null; alert_id: string }>(
      "SELECT channel_id, event_type, attempt, outcome, status_code, alert_id FROM alert_deliveries WHERE tenant_id = $1 ORDER BY attempted_at", [tenantId]
    )

  it("sends a signed test notification through the webhook path and records the attempt", async () => {
    const t = await tenantWithChannels()
    const before = sink.received.length
    const result = await json<ChannelTestResult>(await app.admin("POST", `/api/admin/tenants/${t.id}/channels/hook/test`))
    expect(result).toMatchObject({ channelId: "hook", type: "webhook", outcome: "delivered", statusCode: 200, error: null })
    expect(result.durationMs).toBeGreaterThanOrEqual(0)
    const got = sink.received.slice(before)
    expect(got).toHaveLength(1)
    expect(got[0]?.validSignature).toBe(true)
    expect(got[0]?.id).toMatch(/^test_/)
    expect(got[0]?.body).toMatchObject({ type: "test", data: { tenantId: t.id, channelId: "hook" } })
    expect(await deliveries(t.id)).toEqual([{ channel_id: "hook", event_type: "test", attempt: 1, outcome: "delivered", status_code: 200, alert_id: "" }])

    // An explicit test reaches a disabled channel too.
    expect(await json<ChannelTestResult>(await app.admin("POST", `/api/admin/tenants/${t.id}/channels/off/test`))).toMatchObject({ outcome: "delivered" })
  })

  it("answers with a failed attempt (one, no retry), a log channel's delivery, and 404 for an unknown tenant or channel", async () => {
    const t = await tenantWithChannels()
    const attemptsBefore = sink.attempts.length
    sink.respondWith([503])
    const failed = await json<ChannelTestResult>(await app.admin("POST", `/api/admin/tenants/${t.id}/channels/hook/test`))
    expect(failed).toMatchObject({ outcome: "failed", statusCode: 503 })
    expect(sink.attempts.length - attemptsBefore).toBe(1)
    const logged = await json<ChannelTestResult>(await app.admin("POST", `/api/admin/tenants/${t.id}/channels/log/test`))
    expect(logged).toMatchObject({ channelId: "log", type: "log", outcome: "delivered", statusCode: null, error: null })
    expect((await deliveries(t.id)).map((d) => [d.channel_id, d.outcome, d.status_code])).toEqual([["hook", "failed", 503], ["log", "delivered", null]])

    expect((await app.admin("POST", `/api/admin/tenants/${t.id}/channels/nope/test`)).status).toBe(404)
    expect((await app.admin("POST", `/api/admin/tenants/${newId()}/channels/log/test`)).status).toBe(404)
    expect((await fetch(`${app.baseUrl}/api/admin/tenants/${t.id}/channels/log/test`, { method: "POST", headers: { authorization: `Bearer ${t.key}` } })).status).toBe(401)
  })
})
