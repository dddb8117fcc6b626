import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { createHash, randomUUID } from "node:crypto"
import { ADMIN_TOKEN, call, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"

let app: TestApp
beforeAll(async () => {
  app = await startApp()
})
afterAll(async () => {
  await app.close()
})

const newId = () => `a${randomUUID().replace(/-/g, "").slice(0, 12)}`
const point = { points: [{ name: "cpuUsagePercent", value: 1 }] }

const createTenant = async (id = newId()) => {
  const res = await app.admin("POST", "/api/admin/tenants", { id, name: `Tenant ${id}` })
  expect(res.status).toBe(201)
  return id
}

const createKey = async (tenantId: string, scopes: ReadonlyArray<string> = ["ingest", "query"]) => {
  const res = await app.admin("POST", `/api/admin/tenants/${tenantId}/keys`, { scopes })
  expect(res.status).toBe(201)
  return (await res.json()) as { keyId: string; key: string; tenantId: string; scopes: Array<string> }
}

describe("admin authentication (MPLP_ADMIN_TOKEN)", () => {
  it("refuses a missing or wrong admin token, and a tenant key, with 401", async () => {
    const body = JSON.stringify({ id: newId(), name: "x" })
    const headers = { "content-type": "application/json" }
    const none = await fetch(`${app.baseUrl}/api/admin/tenants`, { method: "POST", headers, body })
    const wrong = await fetch(`${app.baseUrl}/api/admin/tenants`, { method: "POST", headers: { ...headers, authorization: "Bearer not-the-token" }, body })
    const t = await app.tenant()
    const tenantKey = await fetch(`${app.baseUrl}/api/admin/tenants/${t.id}/settings`, { headers: { authorization: `Bearer ${t.key}` } })
    expect([none.status, wrong.status, tenantKey.status]).toEqual([401, 401, 401])
    expect(await app.sql("SELECT 1 FROM tenants WHERE id = $1", [JSON.parse(body).id])).toHaveLength(0)
  })
})

describe("POST /api/admin/tenants", () => {
  it("creates a tenant once; a second create is 409 and an invalid id is 400", async () => {
    const id = newId()
    const res = await app.admin("POST", "/api/admin/tenants", { id, name: "Acme" })
    expect(res.status).toBe(201)
    expect(await res.json()).toMatchObject({ id, name: "Acme" })
    expect((await app.admin("POST", "/api/admin/tenants", { id, name: "again" })).status).toBe(409)
    const bad = await app.admin("POST", "/api/admin/tenants", { id: "Not A Valid Id!", name: "x" })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { message: string }).message).toMatch(/tenant id/)
    const rows = await app.sql<{ name: string }>("SELECT name FROM tenants WHERE id = $1", [id])
    expect(rows.map((r) => r.name)).toEqual(["Acme"])
  })
})

describe("API keys", () => {
  it("returns the key once, in prefix + id form, and stores only its SHA-256", async () => {
    const id = await createTenant()
    const k = await createKey(id, ["ingest"])
    expect(k.key).toMatch(/^mplp_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/)
    expect(k.key.split("_")[1]).toBe(k.keyId)
    expect(k).toMatchObject({ tenantId: id, scopes: ["ingest"] })
    const rows = await app.sql<{ hash: string; whole: string }>(
      "SELECT encode(key_hash, 'hex') AS hash, row_to_json(k)::text AS whole FROM api_keys k WHERE id = $1", [k.keyId]
    )
    expect(rows).toHaveLength(1)
    expect(rows[0]!.hash).toBe(createHash("sha256").update(k.key).digest("hex"))
    // The secret is everything after "mplp_<keyId>_" (base64url: it may contain "_" itself).
    const secret = k.key.slice(`mplp_${k.keyId}_`.length)
    expect(secret).toHaveLength(43)
    expect(rows[0]!.whole).not.toContain(secret)
    expect(rows[0]!.whole).not.toContain(Buffer.from(secret).toString("hex"))
    // Shown once: nothing the admin API returns later carries it.
    const tenant = await app.admin("GET", `/api/admin/tenants/${id}`)
    expect(await tenant.text()).not.toContain(secret)
  })

  it("accepts a key as Authorization: Bearer and as x-api-key", async () => {
    const id = await createTenant()
    const k = await createKey(id, ["ingest"])
    const bearer = await call(app, k.key, "POST", "/api/metrics", point)
    const header = await fetch(`${app.baseUrl}/api/metrics`, {
      method: "POST", headers: { "x-api-key": k.key, "content-type": "application/json" }, body: JSON.stringify(point)
    })
    expect([bearer.status, header.status]).toEqual([202, 202])
  })

  it("supports rotation: several keys work at once, and a revoked key is refused while the others go on", async () => {
    const id = await createTenant()
    const oldKey = await createKey(id)
    const newKey = await createKey(id)
    expect(newKey.keyId).not.toBe(oldKey.keyId)
    expect((await call(app, oldKey.key, "POST", "/api/metrics", point)).status).toBe(202)
    expect((await call(app, newKey.key, "POST", "/api/metrics", point)).status).toBe(202)

    expect((await app.admin("DELETE", `/api/admin/keys/${oldKey.keyId}`)).status).toBe(204)
    expect((await call(app, oldKey.key, "POST", "/api/metrics", point)).status).toBe(401)
    expect((await call(app, newKey.key, "POST", "/api/metrics", point)).status).toBe(202)
    const rows = await app.sql<{ id: string; revoked: boolean }>(
      "SELECT id, revoked_at IS NOT NULL AS revoked FROM api_keys WHERE tenant_id = $1 ORDER BY revoked DESC", [id]
    )
    expect(rows).toEqual([{ id: oldKey.keyId, revoked: true }, { id: newKey.keyId, revoked: false }])
  })

  it("answers 404 for a key of an unknown tenant and for revoking an unknown key, 400 for an unknown scope", async () => {
    expect((await app.admin("POST", `/api/admin/tenants/${newId()}/keys`, { scopes: ["ingest"] })).status).toBe(404)
    expect((await app.admin("DELETE", "/api/admin/keys/000000000000")).status).toBe(404)
    const id = await createTenant()
    const bad = await app.admin("POST", `/api/admin/tenants/${id}/keys`, { scopes: ["root"] })
    expect(bad.status).toBe(400)
    expect(JSON.stringify(await bad.json())).toContain("scopes")
    expect(await app.sql("SELECT 1 FROM api_keys WHERE tenant_id = $1", [id])).toHaveLength(0)
  })
})

describe("tenant settings", () => {
  it("GET returns the defaults merged in; PUT replaces them and the quota takes effect", async () => {
    const t = await app.tenant(["ingest"])
    const before = await app.admin("GET", `/api/admin/tenants/${t.id}/settings`)
    expect(before.status).toBe(200)
    const defaults = (await before.json()) as { quotas: { requestsPerSecond: number; pointsPerSecond: number }; traceTimeoutSeconds: number }
    expect(defaults.quotas.pointsPerSecond).toBeGreaterThan(10)

    const put = await app.admin("PUT", `/api/admin/tenants/${t.id}/settings`, { quotas: { pointsPerSecond: 3 }, traceTimeoutSeconds: 60 })
    expect(put.status).toBe(200)
    const after = (await (await app.admin("GET", `/api/admin/tenants/${t.id}/settings`)).json()) as typeof defaults
    expect(after.quotas).toMatchObject({ requestsPerSecond: defaults.quotas.requestsPerSecond, pointsPerSecond: 3 })
    expect(after.traceTimeoutSeconds).toBe(60)

    const four = { points: Array.from({ length: 4 }, (_, i) => ({ name: "x", value: i })) }
    expect((await call(app, t.key, "POST", "/api/metrics", four)).status).toBe(429)
  })

  it("refuses a bad document with 400 naming the field, and keeps the previous settings", async () => {
    const t = await app.tenant()
    const before = await (await app.admin("GET", `/api/admin/tenants/${t.id}/settings`)).json()

    const negative = await app.admin("PUT", `/api/admin/tenants/${t.id}/settings`, { quotas: { requestsPerSecond: -5 } })
    expect(negative.status).toBe(400)
    const body = (await negative.json()) as { message: string; issues?: Array<{ path: string }> }
    expect(body.message).toContain("quotas.requestsPerSecond")
    expect(body.issues?.map((i) => i.path)).toContain("quotas.requestsPerSecond")

    const misspelt = await app.admin("PUT", `/api/admin/tenants/${t.id}/settings`, { qoutas: { requestsPerSecond: 5 } })
    expect(misspelt.status).toBe(400)
    expect(((await misspelt.json()) as { message: string }).message).toContain("qoutas")

    const notJson = await fetch(`${app.baseUrl}/api/admin/tenants/${t.id}/settings`, {
      method: "PUT", headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" }, body: "{nope"
    })
    expect(notJson.status).toBe(400)

    expect(await (await app.admin("GET", `/api/admin/tenants/${t.id}/settings`)).json()).toEqual(before)
  })

  it("answers 404 for an unknown tenant's settings", async () => {
    expect((await app.admin("GET", `/api/admin/tenants/${newId()}/settings`)).status).toBe(404)
    expect((await app.admin("PUT", `/api/admin/tenants/${newId()}/settings`, {})).status).toBe(404)
  })
})
