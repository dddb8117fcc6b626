import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import { MASKED_SECRET } from "../../src/alerting/channels.ts"
import { keyId, makeSecretBox } from "../../src/alerting/secretBox.ts"
import { TenantStore } from "../../src/tenants/TenantStore.ts"
import { startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"

const CURRENT = randomBytes(32)
const PREVIOUS = randomBytes(32)
const whsec = () => `whsec_${randomBytes(32).toString("base64")}`
const URL_OK = "https://hooks.example.com/mplp"

let app: TestApp
beforeAll(async () => {
  app = await startApp({ stages: [] }, {
    MPLP_ALLOW_PRIVATE_WEBHOOKS: "false",
    MPLP_SECRET_KEY: CURRENT.toString("base64"),
    MPLP_SECRET_KEY_PREVIOUS: PREVIOUS.toString("hex")
  })
})
afterAll(async () => {
  await app.close()
})

type Settings = { channels: Array<{ id: string; type: string; url?: string; secret?: string }>; quotas: { requestsPerSecond: number } }
type Invalid = { message: string; issues: Array<{ path: string; message: string }> }

const hook = (secret: string, id = "ops", url = URL_OK) => ({ id, type: "webhook", url, secret })
/** What the service itself sees (delivery, channel tests): TenantStore, secrets opened. */
const served = (tenantId: string) => app.runtime.runPromise(Effect.flatMap(TenantStore, (s) => s.getSettings(tenantId)))
const secretOf = async (tenantId: string, channelId = "ops") => {
  const c = (await served(tenantId)).channels.find((x) => x.id === channelId)
  return c?.type === "webhook" ? c.secret : undefined
}
const stored = async (tenantId: string) => (await app.sql<{ doc: string }>("SELECT settings::text AS doc FROM tenants WHERE id = $1", [tenantId]))[0]?.doc ?? ""
const put = (tenantId: string, doc: unknown) => app.admin("PUT", `/api/admin/tenants/${tenantId}/settings`, doc)

describe("webhook secrets are write-only", () => {
  it("GET and PUT answer them masked; the masked value sent back keeps the stored secret", async () => {
    const secret = whsec()
    const t = await app.tenant(["query"], { channels: [hook(secret)] })
    const got = await app.admin("GET", `/api/admin/tenants/${t.id}/settings`)
    const text = await got.text()
    expect(text).not.toContain(secret.slice(6))
    const doc = JSON.parse(text) as Settings
    expect(doc.channels[0]?.secret).toBe(MASKED_SECRET)

    // The console's editor round-trips the whole document with one field changed.
    const edited = { ...doc, quotas: { ...doc.quotas, requestsPerSecond: 7 } }
    const saved = await put(t.id, edited)
    expect(saved.status).toBe(200)
    expect(((await saved.json()) as Settings).channels[0]?.secret).toBe(MASKED_SECRET)
    expect(await secretOf(t.id)).toBe(secret)
    expect((await served(t.id)).quotas.requestsPerSecond).toBe(7)

    const replaced = whsec()
    expect((await put(t.id, { channels: [hook(replaced)] })).status).toBe(200)
    expect(await secretOf(t.id)).toBe(replaced)

    // The marker cannot invent a secret for a channel that has none.
    const orphan = await put(t.id, { channels: [hook(MASKED_SECRET), hook(MASKED_SECRET, "new")] })
    expect(orphan.status).toBe(400)
    expect(((await orphan.json()) as Invalid).issues.map((i) => i.path)).toEqual(["channels.1.secret"])
    expect(await secretOf(t.id)).toBe(replaced)
  })

  it("are stored encrypted under MPLP_SECRET_KEY; the previous key still opens; reseal moves all to the current key", async () => {
    const secret = whsec()
    const t = await app.tenant(["query"], { channels: [hook(secret)] })
    const raw = await stored(t.id)
    expect(raw).not.toContain(secret.slice(6))
    expect(raw).toContain(`mplp:enc:v1:${keyId(CURRENT)}:`)

    // Written under the previous key (before a rotation), or under a key this process does not have.
    const older = whsec()
    const unknownKey = makeSecretBox(randomBytes(32)).seal(whsec(), "x")
    const u = await app.tenant(["query"])
    const sealedBefore = makeSecretBox(PREVIOUS).seal(older, u.id)
    const doc = JSON.parse(await stored(u.id)) as Settings
    await app.sql("UPDATE tenants SET settings = $2::jsonb WHERE id = $1", [u.id, JSON.stringify({ ...doc, channels: [hook(sealedBefore), hook(unknownKey, "lost")] })])
    expect(await secretOf(u.id)).toBe(older)
    expect(await secretOf(u.id, "lost")).toBe(unknownKey) // stays sealed: delivery refuses it

    const result = await app.runtime.runPromise(Effect.flatMap(TenantStore, (s) => s.resealSecrets))
    expect(result.unreadable).toContain(u.id)
    const after = await stored(u.id)
    expect(after).not.toContain(sealedBefore)
    expect(after).toContain(`mplp:enc:v1:${keyId(CURRENT)}:`)
    expect(after).toContain(unknownKey)
    expect(await secretOf(u.id)).toBe(older)
    // A value sealed for one tenant does not open as another's.
    const v = await app.tenant(["query"])
    await app.sql("UPDATE tenants SET settings = $2::jsonb WHERE id = $1", [v.id, JSON.stringify({ ...doc, channels: [hook(makeSecretBox(CURRENT).seal(older, u.id))] })])
    expect((await secretOf(v.id))?.startsWith("mplp:enc:")).toBe(true)
  })
})

describe("checks when settings are saved", () => {
  it("refuses weak secrets with 400 naming channels.i.secret, without echoing them", async () => {
    const t = await app.tenant(["query"])
    for (const secret of ["short", `whsec_${randomBytes(16).toString("base64")}`, "whsec_this is not base64 although it is long"]) {
      const res = await put(t.id, { channels: [{ id: "log", type: "log" }, hook(secret)] })
      expect(res.status, secret).toBe(400)
      const body = (await res.json()) as Invalid
      expect(body.issues.map((i) => i.path)).toEqual(["channels.1.secret"])
      expect(JSON.stringify(body)).not.toContain(secret.startsWith("whsec_") ? secret.slice(6) : secret)
    }
    expect((await put(t.id, { channels: [hook("twenty-four-bytes-secret")] })).status).toBe(200)
  })

  it("refuses a literal non-public webhook address with 400 naming channels.i.url, on PUT and on create", async () => {
    const t = await app.tenant(["query"])
    for (const url of ["http://169.254.169.254/latest/meta-data", "http://[::ffff:127.0.0.1]:8080/", "http://[64:ff9b:1::a9fe:a9fe]/", "http://10.0.0.8/hook"]) {
      const res = await put(t.id, { channels: [hook(whsec(), "ops", url)] })
      expect(res.status, url).toBe(400)
      expect(((await res.json()) as Invalid).issues.map((i) => i.path)).toEqual(["channels.0.url"])
    }
    const created = await app.admin("POST", "/api/admin/tenants", { id: `t${randomBytes(6).toString("hex")}`, settings: { channels: [hook(whsec(), "ops", "http://127.0.0.1:9/x")] } })
    expect(created.status).toBe(400)
    expect(((await created.json()) as Invalid).issues.map((i) => i.path)).toEqual(["channels.0.url"])
    // A name is resolved (and checked) at every delivery instead.
    expect((await put(t.id, { channels: [hook(whsec(), "ops", "http://localhost:9/x")] })).status).toBe(200)
  })

  it("does not judge again a secret stored before the rules (an edit round-trips it masked)", async () => {
    const t = await app.tenant(["query"])
    const doc = JSON.parse(await stored(t.id)) as Settings
    await app.sql("UPDATE tenants SET settings = $2::jsonb WHERE id = $1", [t.id, JSON.stringify({ ...doc, channels: [hook("old-short")] })])
    const masked = (await (await app.admin("GET", `/api/admin/tenants/${t.id}/settings`)).json()) as Settings
    expect((await put(t.id, { ...masked, quotas: { ...masked.quotas, requestsPerSecond: 9 } })).status).toBe(200)
    expect(await secretOf(t.id)).toBe("old-short")
    expect(await stored(t.id)).not.toContain("old-short")
  })
})
