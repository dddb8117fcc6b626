import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { Browser, Page } from "playwright-core"
import type { AlertDetailView } from "../../src/domain/consoleViews.ts"
import { buildConsole, launchBrowser, newPage, screenshot, watchPage } from "../support/browser.ts"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"

// The alerts pages in headless Chromium against the real service: an anomaly raised through the
// public API (one-second windows, a short warm-up, quiet values then a spike, back-dated in event-time
// order), listed, opened (band, numbers, notifications) and acknowledged.

let app: TestApp
let browser: Browser
let tenant: { id: string; key: string }
let alertId: string
const SERVICE = "checkout"

beforeAll(async () => {
  await buildConsole()
  app = await startApp()
  browser = await launchBrowser()
  tenant = await app.tenant(["ingest", "query", "alerts"], {
    windows: { sizeSeconds: 1, allowedLatenessSeconds: 0, idleTimeoutSeconds: 1 },
    detector: { warmupWindows: 3 },
    thresholds: { latencyMs: { warning: 500 } }
  })
  const base = Math.floor((Date.now() - 2 * 60_000) / 1000) * 1000
  const values = [...Array.from({ length: 14 }, (_, i) => 100 + (i % 3) * 2), 900]
  const points = [
    ...values.map((value, i) => ({ name: "latencyMs", value, serviceName: SERVICE, time: base + i * 1000 + 500 })),
    ...values.map((value, i) => ({ name: "queueDepth", value: value / 10, serviceName: "worker", time: base + i * 1000 + 600 }))
  ]
  expect((await call(app, tenant.key, "POST", "/api/metrics", { points })).status).toBe(202)
  alertId = await eventually(async () => {
    const res = await call(app, tenant.key, "GET", "/api/alerts?state=open")
    const { alerts } = (await res.json()) as { alerts: Array<{ id: string; type: string; metricName: string | null }> }
    return alerts.find((a) => a.type === "anomaly_detected" && a.metricName === "latencyMs")?.id
  }, 30_000)
  // Its notification delivered to the tenant's log channel.
  await eventually(async () => {
    const d = (await (await call(app, tenant.key, "GET", `/api/alerts/${alertId}`)).json()) as AlertDetailView
    return d.deliveries.length > 0 ? d : undefined
  }, 20_000)
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await app?.close()
})

const signedIn = async (path: string): Promise<{ page: Page; problems: Array<string> }> => {
  const page = await newPage(browser)
  const problems = watchPage(page)
  await page.goto(`${app.baseUrl}${path}#key=${tenant.key}`)
  return { page, problems }
}

describe("alerts in the console", () => {
  it("the alert's page shows why it fired: the band and series, observed vs expected, z, and its notification's delivery", async () => {
    const { page, problems } = await signedIn(`/alerts/${alertId}`)
    await page.locator("h1#alert-title").waitFor()
    const chart = page.locator(".alert-chart")
    await chart.waitFor()
    expect(Number(await chart.getAttribute("data-windows"))).toBeGreaterThanOrEqual(15)
    expect(await chart.locator("canvas").count()).toBeGreaterThan(0)
    const reason = await page.locator(".reason").innerText()
    expect(reason).toMatch(/was 900 ms where the detector expected 10\d(\.\d+)? ms/)
    expect(reason).toMatch(/z = \d+/)
    expect(reason).toMatch(/warns from z 3 and calls it critical from z 4\.5/)
    const notification = page.locator('[data-notification="anomaly_detected"]')
    await notification.waitFor()
    expect(await notification.innerText()).toContain("Anomaly")
    expect(await notification.locator('[data-delivery="delivered"]').count()).toBeGreaterThanOrEqual(1)
    const href = await page.locator('[data-link="executions"]').getAttribute("href")
    const q = new URLSearchParams(href?.split("?")[1] ?? "")
    expect(href?.startsWith("/executions?")).toBe(true)
    expect(q.get("service")).toBe(SERVICE)
    expect(Date.parse(q.get("from") ?? "")).toBeLessThan(Date.parse(q.get("to") ?? ""))
    // The times carry the viewer's offset (the page runs in Europe/Berlin).
    expect(await page.locator(".alert-head").innerText()).toMatch(/UTC\+0[12]:00/)
    await page.waitForTimeout(300)
    await screenshot(page, "alert")
    // A threshold's alert says which threshold it passed, drawn as a line on the same chart.
    const threshold = await eventually(async () => {
      const { alerts } = (await (await call(app, tenant.key, "GET", "/api/alerts?state=open")).json()) as { alerts: Array<{ id: string; type: string }> }
      return alerts.find((a) => a.type === "threshold_exceeded")?.id
    })
    await page.goto(`${app.baseUrl}/alerts/${threshold}`)
    await page.locator(".alert-chart canvas").first().waitFor()
    expect(await page.locator(".reason").innerText()).toMatch(/latencyMs of checkout reached 900 ms, past its warning threshold of 500 ms/)
    await page.waitForTimeout(300)
    await screenshot(page, "alert-threshold")
    const dark = await newPage(browser, { colorScheme: "dark" })
    await dark.goto(`${app.baseUrl}/alerts/${alertId}#key=${tenant.key}`)
    await dark.locator(".alert-chart canvas").first().waitFor()
    await dark.waitForTimeout(300)
    await screenshot(dark, "alert-dark")
    expect(problems).toEqual([])
  })

  it("a key without the alerts scope sees the alert but its acknowledgement is refused, with why and what to do", async () => {
    const k = await app.admin("POST", `/api/admin/tenants/${tenant.id}/keys`, { scopes: ["query"] })
    const { key } = (await k.json()) as { key: string }
    const page = await newPage(browser)
    const problems = watchPage(page)
    await page.goto(`${app.baseUrl}/alerts#key=${key}`)
    const row = page.locator(`[data-alert-id="${alertId}"]`)
    await row.waitFor()
    await row.locator('[data-action="ack"]').click()
    const refusal = row.getByRole("alert")
    await refusal.waitFor()
    expect(await refusal.innerText()).toMatch(/may not acknowledge alerts \(403: .*\).*scope for it in Admin/)
    await screenshot(page, "alerts-ack-refused")
    // Nothing changed: the alert is still open for a key that may acknowledge it.
    const res = await call(app, tenant.key, "GET", `/api/alerts/${alertId}`)
    expect(((await res.json()) as { alert: { state: string } }).alert.state).toBe("open")
    // The browser logs the refused request itself; nothing else went wrong on the page.
    expect(problems.filter((p) => !/403/.test(p))).toEqual([])
    await page.close()
  })

  it("lists the open alert, filters it by severity in the URL, and an acknowledgement changes its state and survives a reload", async () => {
    const { page, problems } = await signedIn("/alerts")
    const row = page.locator(`[data-alert-id="${alertId}"]`)
    await row.waitFor()
    expect(await row.getAttribute("data-state")).toBe("open")
    expect(await row.innerText()).toContain(SERVICE)
    // The README's screenshot, refreshed on request only (tests leave tracked files alone).
    if (process.env.UPDATE_DOCS_SCREENSHOTS === "1") {
      await page.setViewportSize({ width: 1280, height: 800 })
      await page.screenshot({ path: "docs/alerts.png" })
      await page.setViewportSize({ width: 1400, height: 900 })
    }
    await screenshot(page, "alerts")

    // The severity filter lives in the URL: warning only hides this critical alert.
    await page.getByRole("button", { name: /critical/ }).click()
    await page.waitForURL(/severity=warning/)
    await expect.poll(() => row.count()).toBe(0)
    await page.goBack()
    await row.waitFor()

    await row.locator('[data-action="ack"]').click()
    await expect.poll(() => row.getAttribute("data-state")).toBe("acknowledged")
    expect(await row.locator('[data-action="ack"]').count()).toBe(0)
    await page.reload()
    await row.waitFor()
    expect(await row.getAttribute("data-state")).toBe("acknowledged")
    const res = await call(app, tenant.key, "GET", "/api/alerts?state=acknowledged")
    expect(((await res.json()) as { alerts: Array<{ id: string }> }).alerts.map((a) => a.id)).toContain(alertId)
    await screenshot(page, "alerts-acknowledged")
    expect(problems).toEqual([])
  })
})
