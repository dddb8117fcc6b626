import type { Browser } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { buildConsole, launchBrowser, newPage, screenshot, watchPage } from "../support/browser.ts"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"

// The console's running executions follow the live view: progress moves as the agent reports it,
// without the page asking the search endpoint again.

let app: TestApp
let browser: Browser

beforeAll(async () => {
  await buildConsole()
  app = await startApp()
  browser = await launchBrowser()
}, 240_000)

afterAll(async () => {
  await browser?.close()
  await app?.close()
})

describe("running executions, live", () => {
  it("shows progress, the current operation and the finish as they happen, without polling", async () => {
    const t = await app.tenant()
    const started = await call(app, t.key, "POST", "/api/executions", { operationName: "book hotel", serviceName: "booker", context: { contextId: "c1", userId: "u1" } })
    const id = ((await started.json()) as { executionId: string }).executionId
    expect((await call(app, t.key, "PATCH", `/api/executions/${id}`, { progressPercentage: 20, currentOperation: "compare prices" })).status).toBe(202)
    await eventually(async () => {
      const page = (await (await call(app, t.key, "GET", "/api/executions?status=active")).json()) as { executions: Array<{ progressPercentage: number | null }> }
      return page.executions[0]?.progressPercentage === 20 ? true : undefined
    })

    const page = await newPage(browser)
    const problems = watchPage(page)
    await page.goto(`${app.baseUrl}/#key=${t.key}`)
    await page.getByRole("heading", { name: "Overview" }).waitFor()
    await page.goto(`${app.baseUrl}/executions?status=active,paused`)
    const row = page.locator(`tr[data-trace-id="${id.slice(0, 32)}"]`)
    const progress = row.getByRole("progressbar")
    await expect.poll(() => progress.getAttribute("value"), { timeout: 15_000 }).toBe("20")
    await page.getByText("● live").waitFor({ timeout: 15_000 })
    const searches: Array<string> = []
    page.on("request", (r) => {
      if (new URL(r.url()).pathname === "/api/executions") searches.push(r.url())
    })

    for (const [percent, operation] of [[45, "hold room"], [80, "pay"]] as const) {
      expect((await call(app, t.key, "PATCH", `/api/executions/${id}`, { progressPercentage: percent, currentOperation: operation })).status).toBe(202)
      await expect.poll(() => progress.getAttribute("value"), { timeout: 10_000 }).toBe(String(percent))
      expect(await row.textContent()).toContain(operation)
    }
    await screenshot(page, "executions-live")
    expect((await call(app, t.key, "POST", `/api/executions/${id}/finish`, { success: true })).status).toBe(202)
    await expect.poll(() => row.textContent(), { timeout: 10_000 }).toContain("completed")
    // Every change came over the live view: the page never searched again.
    expect(searches).toEqual([])
    expect(problems).toEqual([])
    await page.context().close()
  }, 90_000)
})
