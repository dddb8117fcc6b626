import { randomUUID } from "node:crypto"
import type { Browser, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { buildConsole, launchBrowser, newPage, screenshot, watchPage } from "../support/browser.ts"
import { ADMIN_TOKEN, call, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"
import { startSink } from "../support/sink.ts"
import type { Sink } from "../support/sink.ts"

// The admin page in headless Chromium against the real service: the admin token asked by a form,
// a tenant created, a key created (shown once, gone after a reload) and revoked, the settings' 400
// shown at the offending field and listed in the JSON editor, and a channel's test notification.

let app: TestApp
let browser: Browser
let page: Page
let problems: Array<string>
let sink: Sink
const SECRET = "whsec_dGVzdC1jaGFubmVsLXNlY3JldC1vZi0zMi1ieXRlcyE="

beforeAll(async () => {
  await buildConsole()
  app = await startApp()
  sink = await startSink(SECRET)
  browser = await launchBrowser()
  page = await newPage(browser)
  problems = watchPage(page)
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await app?.close()
  await sink?.close()
})

const field = (path: string) => page.locator(`[data-field="${path}"]`)

describe("admin in the console", () => {
  it("asks for the admin token, refuses a wrong one, and creates a tenant", async () => {
    await page.goto(`${app.baseUrl}/admin`)
    const token = page.getByLabel("Admin token")
    await token.fill("not-the-token")
    await page.getByRole("button", { name: "Continue" }).click()
    await page.getByText("That admin token was refused.").waitFor()
    await token.fill(ADMIN_TOKEN)
    await page.getByRole("button", { name: "Continue" }).click()
    await page.locator("#admin-title").waitFor()
    expect(page.url()).not.toContain(ADMIN_TOKEN)
    expect(await page.evaluate("JSON.stringify(localStorage)")).toBe("{}")

    const id = `c${randomUUID().replace(/-/g, "").slice(0, 10)}`
    await page.getByLabel("Id", { exact: true }).fill(id)
    await page.getByRole("button", { name: "Create tenant" }).click()
    await page.waitForURL(new RegExp(`tenant=${id}`))
    await page.locator(`[data-tenant-panel="${id}"]`).waitFor()
    expect((await app.admin("GET", `/api/admin/tenants/${id}`)).status).toBe(200)
  })

  it("creates a key with the chosen scopes, shows it once with a copy button, and revokes it", async () => {
    const t = await app.tenant()
    await page.goto(`${app.baseUrl}/admin?tenant=${t.id}`)
    await page.locator(`[data-key-id="${t.keyId}"]`).waitFor()
    await page.getByPlaceholder("e.g. checkout service").fill("ci reader")
    await page.getByRole("checkbox", { name: /^ingest/ }).uncheck()
    await page.getByRole("button", { name: "Create key" }).click()
    const box = page.locator("[data-new-key]")
    await box.waitFor()
    const key = (await box.getByLabel("the new API key", { exact: true }).innerText()).trim()
    expect(key).toMatch(/^mplp_/)
    expect(await box.getByRole("button", { name: /Copy/ }).count()).toBe(1)
    const keyId = (await box.getAttribute("data-new-key")) ?? ""
    const row = page.locator(`[data-key-id="${keyId}"]`)
    await row.waitFor()
    expect(await row.innerText()).toContain("query")
    expect(await row.innerText()).not.toContain("ingest")
    // The key works, with the scopes chosen.
    expect((await call(app, key, "GET", "/api/services")).status).toBe(200)
    expect((await call(app, key, "POST", "/api/metrics", { points: [{ name: "x", value: 1 }] })).status).toBe(403)
    await screenshot(page, "admin-keys")

    // Shown once: a reload brings the list back, not the key.
    await page.reload()
    await row.waitFor()
    expect(await page.locator("[data-new-key]").count()).toBe(0)
    expect(await page.content()).not.toContain(key)
    expect(await page.evaluate("JSON.stringify(localStorage) + JSON.stringify(sessionStorage)")).not.toContain(key)

    await row.locator('[data-action="revoke"]').click()
    await row.locator('[data-action="confirm-revoke"]').click()
    await expect.poll(() => row.getAttribute("data-revoked")).toBe("true")
    expect((await call(app, key, "GET", "/api/services")).status).toBe(401)
  })

  it("puts the settings' 400 at the offending field, lists it with its path in the JSON editor, and saves a valid change", async () => {
    const t = await app.tenant()
    await page.goto(`${app.baseUrl}/admin?tenant=${t.id}&tab=settings`)
    const zWarning = field("detector.zWarning").locator("input")
    await zWarning.waitFor()
    await zWarning.fill("-1")
    await page.getByRole("button", { name: "Save settings" }).click()
    const error = field("detector.zWarning").locator(".field-error")
    await error.waitFor()
    expect(await error.innerText()).toContain("detector.zWarning must be > 0")
    expect(await zWarning.getAttribute("aria-invalid")).toBe("true")
    expect(await field("detector.zCritical").locator(".field-error").count()).toBe(0)
    await page.evaluate("window.scrollTo(0, 0)")
    await screenshot(page, "admin-settings-error")

    // A check across two fields lands on the one its message names.
    await zWarning.fill("5")
    await field("detector.zCritical").locator("input").fill("4")
    await page.getByRole("button", { name: "Save settings" }).click()
    await field("detector.zCritical").locator(".field-error").waitFor()
    expect(await field("detector.zCritical").locator(".field-error").innerText()).toContain("detector.zCritical must be >= detector.zWarning")

    await page.getByRole("tab", { name: "JSON" }).click()
    await page.waitForURL(/mode=json/)
    const editor = page.getByLabel("Settings document (JSON)")
    const doc = JSON.parse(await editor.inputValue()) as { detector: Record<string, unknown> }
    expect(doc.detector.zWarning).toBe(5)
    await editor.fill(JSON.stringify({ ...doc, detector: { ...doc.detector, zWarning: 2, zCritical: 4, alpha: 7 }, bogus: true }, null, 2))
    await page.getByRole("button", { name: "Save settings" }).click()
    const list = page.locator("[data-issues]")
    await list.waitFor()
    const text = await list.innerText()
    expect(text).toContain("detector.alpha")
    expect(text).toContain("bogus")
    await screenshot(page, "admin-settings-json")

    await editor.fill(JSON.stringify({ ...doc, detector: { ...doc.detector, zWarning: 2.5, zCritical: 4 } }, null, 2))
    await page.getByRole("button", { name: "Save settings" }).click()
    await page.getByText(/Saved: every process/).waitFor()
    const stored = (await (await app.admin("GET", `/api/admin/tenants/${t.id}/settings`)).json()) as { detector: { zWarning: number } }
    expect(stored.detector.zWarning).toBe(2.5)
  })

  it("sends a test notification per channel and shows the attempt: delivered with its status, or failed", async () => {
    const t = await app.tenant(["ingest", "query"], {
      channels: [{ id: "hook", type: "webhook", url: sink.url, secret: SECRET }, { id: "log", type: "log" }]
    })
    await page.goto(`${app.baseUrl}/admin?tenant=${t.id}&tab=channels`)
    const hook = page.locator('[data-channel="hook"]')
    await hook.waitFor()
    const before = sink.received.length
    await hook.locator('[data-action="test-channel"]').click()
    const result = hook.locator("[data-outcome]")
    await result.waitFor()
    expect(await result.getAttribute("data-outcome")).toBe("delivered")
    expect(await result.innerText()).toMatch(/delivered.*status 200.*took \d/s)
    expect(sink.received.length - before).toBe(1)
    expect(sink.received[before]?.validSignature).toBe(true)

    sink.respondWith([503])
    await hook.locator('[data-action="test-channel"]').click()
    await expect.poll(() => result.getAttribute("data-outcome")).toBe("failed")
    expect(await result.innerText()).toContain("status 503")

    const log = page.locator('[data-channel="log"]')
    await log.locator('[data-action="test-channel"]').click()
    await log.locator('[data-outcome="delivered"]').waitFor()
    await screenshot(page, "admin-channels")
    // The 400s the settings test provoked are answers the page showed, not problems.
    expect(problems.filter((p) => !/status of 400/.test(p))).toEqual([])
  })
})
