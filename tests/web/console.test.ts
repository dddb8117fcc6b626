import type { Browser, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { ExecutionDetailView } from "../../src/domain/queryViews.ts"
import { buildConsole, launchBrowser, newPage, screenshot, watchPage } from "../support/browser.ts"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"
import { otlpTraces, spanId, traceId } from "../support/otlpJson.ts"
import type { SpanSpec } from "../support/otlpJson.ts"

// The console in a real Chromium against the real service: data goes in through the public API,
// the test reads what a person would see.

let app: TestApp
let browser: Browser
let key: string
let running: string
const trace = traceId()
const ids = Array.from({ length: 12 }, () => spanId())
const T0 = Date.now() - 60_000

/** A planner calling two researchers (one calls a tool twice), an LLM that fails, and a writer. */
const SPANS: ReadonlyArray<SpanSpec> = [
  { spanId: ids[0]!, name: "plan trip", service: "planner", startMs: T0, endMs: T0 + 4000, attributes: { "user.id": "u-7" } },
  { spanId: ids[1]!, parentSpanId: ids[0]!, name: "research flights", service: "researcher", startMs: T0 + 100, endMs: T0 + 1800 },
  { spanId: ids[2]!, parentSpanId: ids[1]!, name: "GET /flights", service: "tools", startMs: T0 + 200, endMs: T0 + 900 },
  { spanId: ids[3]!, parentSpanId: ids[1]!, name: "GET /fares", service: "tools", startMs: T0 + 950, endMs: T0 + 1700 },
  { spanId: ids[4]!, parentSpanId: ids[0]!, name: "research hotels", service: "researcher", startMs: T0 + 150, endMs: T0 + 1200 },
  { spanId: ids[5]!, parentSpanId: ids[4]!, name: "GET /hotels", service: "tools", startMs: T0 + 250, endMs: T0 + 1100 },
  {
    spanId: ids[6]!, parentSpanId: ids[0]!, name: "chat gpt-x", service: "llm", startMs: T0 + 1900, endMs: T0 + 2600, error: true,
    attributes: { "gen_ai.request.model": "gpt-x", "retry.count": 2 }, events: [{ name: "rate limited", timeMs: T0 + 2000, attributes: { "http.status": 429 } }]
  },
  { spanId: ids[7]!, parentSpanId: ids[0]!, name: "chat gpt-x", service: "llm", startMs: T0 + 2650, endMs: T0 + 3500 },
  { spanId: ids[8]!, parentSpanId: ids[7]!, name: "tokenize", service: "llm", startMs: T0 + 2660, endMs: T0 + 2700 },
  { spanId: ids[9]!, parentSpanId: ids[0]!, name: "write itinerary", service: "writer", startMs: T0 + 3550, endMs: T0 + 3950 },
  { spanId: ids[10]!, parentSpanId: ids[9]!, name: "render", service: "writer", startMs: T0 + 3600, endMs: T0 + 3900 },
  { spanId: ids[11]!, parentSpanId: ids[0]!, name: "audit log", service: "tools", startMs: T0 + 3960, endMs: T0 + 3990 }
]

const signedIn = async (options: Parameters<typeof newPage>[1] = {}) => {
  const page = await newPage(browser, options)
  await page.goto(`${app.baseUrl}/#key=${key}`)
  await page.getByRole("heading", { name: "Overview" }).waitFor()
  return page
}

const detail = async () => (await (await call(app, key, "GET", `/api/executions/${trace}`)).json()) as ExecutionDetailView

beforeAll(async () => {
  await buildConsole()
  app = await startApp()
  browser = await launchBrowser()
  key = (await app.tenant()).key
  expect((await call(app, key, "POST", "/v1/traces", otlpTraces(trace, SPANS))).status).toBe(200)
  const points = Array.from({ length: 30 }, (_, i) => ({ name: "responseTimeMs", value: 100 + i, serviceName: i % 2 === 0 ? "planner" : "llm", time: new Date(T0 + i * 1000).toISOString() }))
  expect((await call(app, key, "POST", "/api/metrics", { points })).status).toBe(202)
  const started = await call(app, key, "POST", "/api/executions", { operationName: "book hotel", serviceName: "booker", context: { contextId: "c1", userId: "u1" } })
  running = ((await started.json()) as { traceId: string }).traceId
  expect((await call(app, key, "PATCH", `/api/executions/${running}`, { progressPercentage: 40, currentOperation: "compare prices" })).status).toBe(202)
  await eventually(async () => ((await detail()).spans?.length === SPANS.length ? true : undefined), 30_000)
  await eventually(async () => {
    const page = (await (await call(app, key, "GET", "/api/executions?status=active")).json()) as { executions: Array<{ progressPercentage: number | null }> }
    return page.executions[0]?.progressPercentage === 40 ? true : undefined
  }, 30_000)
  await eventually(async () => {
    const page = (await (await call(app, key, "GET", "/api/metrics/series?name=responseTimeMs&from=now-1h&bucket=raw")).json()) as { series: Array<{ points: Array<unknown> }> }
    return page.series.reduce((n, s) => n + s.points.length, 0) === 30 ? true : undefined
  }, 30_000)
}, 240_000)

afterAll(async () => {
  await browser?.close()
  await app?.close()
})

describe("web console", () => {
  it("is served by the API process: hashed assets cached for a year, pages revalidated, CSP 'self', /metrics by Accept", async () => {
    const page = await fetch(`${app.baseUrl}/executions/${trace}`, { headers: { accept: "text/html" } })
    expect(page.status).toBe(200)
    expect(page.headers.get("cache-control")).toBe("no-cache")
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'")
    const html = await page.text()
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1]
    expect(script).toBeDefined()
    const asset = await fetch(`${app.baseUrl}${script}`, { headers: { "accept-encoding": "gzip" } })
    expect(asset.status).toBe(200)
    expect(asset.headers.get("cache-control")).toContain("immutable")
    expect((await fetch(`${app.baseUrl}/metrics`, { headers: { accept: "text/html" } })).headers.get("content-type")).toContain("text/html")
    expect((await fetch(`${app.baseUrl}/metrics`)).headers.get("content-type")).toContain("text/plain")
    expect((await fetch(`${app.baseUrl}/api/nothing`, { headers: { accept: "text/html" } })).status).toBe(404)
  })

  it("signs in by link: the key leaves the address bar and is kept in session storage only", async () => {
    const page = await signedIn()
    const problems = watchPage(page)
    expect(page.url()).not.toContain(key)
    expect(page.url()).not.toContain("#")
    expect(await page.evaluate("[sessionStorage.getItem('mplp.key'), localStorage.length]")).toEqual([key, 0])
    await page.reload()
    await page.getByRole("heading", { name: "Overview" }).waitFor()
    expect(problems).toEqual([])
    await page.context().close()
  })

  it("signs in by form, and says why a bad key is refused", async () => {
    const page = await newPage(browser)
    await page.goto(`${app.baseUrl}/executions`)
    await page.getByLabel("API key").fill("mplp_000000000000_not-a-key")
    await page.getByRole("button", { name: "Sign in" }).click()
    await expect.poll(() => page.getByRole("alert").textContent()).toMatch(/refused/)
    await screenshot(page, "signin-refused")
    await page.getByLabel("API key").fill(key)
    await page.getByRole("button", { name: "Sign in" }).click()
    // The page asked for is the page shown.
    await page.getByRole("heading", { name: "Executions" }).waitFor()
    await page.context().close()
  })

  it("goes back to sign-in with a message when the key is revoked while in use", async () => {
    const t = await app.tenant()
    const page = await newPage(browser)
    await page.goto(`${app.baseUrl}/#key=${t.key}`)
    await page.getByRole("heading", { name: "Overview" }).waitFor()
    expect((await app.admin("DELETE", `/api/admin/keys/${t.keyId}`)).status).toBe(204)
    await page.getByRole("link", { name: "Executions" }).click()
    await page.getByLabel("API key").waitFor({ timeout: 20_000 })
    expect(await page.getByRole("alert").textContent()).toMatch(/refused the key/)
    expect(await page.evaluate("sessionStorage.getItem('mplp.key')")).toBeNull()
    await page.context().close()
  })

  it("lists the services sent on the overview, with their RED figures", async () => {
    const page = await signedIn()
    for (const s of ["planner", "researcher", "tools", "llm", "writer"]) await page.locator(`tr[data-service="${s}"]`).waitFor()
    expect(await page.locator(`tr[data-service="llm"]`).textContent()).toMatch(/⚠ 33 %/)
    const now = page.locator(`li[data-trace-id="${running}"]`)
    expect(await now.textContent()).toContain("compare prices")
    expect(await now.getByRole("progressbar").getAttribute("value")).toBe("40")
    expect(await page.getByText(/^1 error span$/).count()).toBe(1)
    // The p95 trend of a service whose spans fell in one bucket: a dot, not an empty cell (no line joins one value).
    const p95Trend = page.locator(`tr[data-service="planner"] td`).nth(5).locator("canvas")
    await p95Trend.waitFor()
    // Its painted pixels (an expression run in the page: this project's types have no DOM).
    const painted = await page.evaluate(`(() => {
      const c = document.querySelectorAll('tr[data-service="planner"] td')[5].querySelector("canvas")
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data
      let n = 0
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++
      return n
    })()`)
    expect(painted).toBeGreaterThan(0)
    await screenshot(page, "overview")
    const dark = await signedIn({ colorScheme: "dark" })
    await dark.locator(`tr[data-service="planner"]`).waitFor()
    await screenshot(dark, "overview-dark")
    await dark.context().close()
    await page.context().close()
  })

  it("searches, opens an execution, and shows one waterfall row per span with the critical path marked", async () => {
    const page = await signedIn()
    const problems = watchPage(page)
    await page.getByRole("link", { name: "Executions", exact: true }).click()
    await page.getByLabel("Service").fill("planner")
    await page.getByRole("button", { name: "Search" }).click()
    await expect.poll(() => page.url()).toContain("service=planner")
    const row = page.locator(`tr[data-trace-id="${trace}"]`)
    await row.waitFor()
    // its one model call reported no usage: said so, not "0 tok · $0"
    expect(await row.textContent()).toContain("1 LLM call · no usage")
    await screenshot(page, "executions")
    await row.getByRole("link", { name: "plan trip" }).click()
    await page.locator("[data-span-id]").first().waitFor()
    const server = await detail()
    const rows = await page.locator("[data-span-id]").evaluateAll((els) => els.map((e) => [e.getAttribute("data-span-id"), e.getAttribute("data-critical")]))
    expect(rows.map(([id]) => id).sort()).toEqual(server.spans.map((s) => s.spanId).sort())
    const critical = rows.filter(([, c]) => c === "true").map(([id]) => id).sort()
    expect(critical).toEqual(server.spans.filter((s) => s.criticalPathMs > 0).map((s) => s.spanId).sort())
    expect(critical.length).toBeGreaterThan(1)
    expect(critical).not.toContain(ids[4])
    // The failed span says so in words, not only in colour.
    expect(await page.locator(`[data-span-id="${ids[6]}"]`).getAttribute("aria-label")).toMatch(/error/)
    // An execution made from an OTLP root span has no execution events to PATCH in: its events are its spans'.
    expect(server.source).toBe("otlp")
    await page.getByText("whose events are on its spans").waitFor()
    expect(await page.getByText("PATCH /api/executions").count()).toBe(0)
    await screenshot(page, "execution")
    // A native execution without events says how to record them, by its own id.
    await page.goto(`${app.baseUrl}/executions/${running}`)
    await page.getByText(`No event. PATCH /api/executions/${running} with "events" records them.`).waitFor()
    expect(problems).toEqual([])
    await page.context().close()
  })

  it("opens the span panel with status, attributes and events, by mouse and by keyboard, and keeps it across reload", async () => {
    const page = await signedIn()
    await page.goto(`${app.baseUrl}/executions/${trace}`)
    await page.locator(`[data-span-id="${ids[6]}"]`).click()
    const panel = page.getByRole("complementary")
    await panel.getByText("status error").waitFor()
    expect(await panel.textContent()).toContain("gen_ai.request.model")
    expect(await panel.textContent()).toContain("rate limited")
    expect(page.url()).toContain(`span=${ids[6]}`)
    await screenshot(page, "execution-span")
    await page.reload()
    await page.getByRole("complementary").getByText("status error").waitFor()
    // Keyboard: Escape closes; the first row, then ArrowDown and Enter open the second span.
    await page.keyboard.press("Escape")
    await expect.poll(() => page.getByRole("complementary").count()).toBe(0)
    await page.locator(`[data-span-id="${ids[0]}"]`).focus()
    await page.keyboard.press("ArrowDown")
    await page.keyboard.press("Enter")
    await expect.poll(() => page.url()).toContain(`span=${ids[1]}`)
    await page.context().close()
  })

  it("draws a metric's chart with its points, and keeps the time range across reload and back", async () => {
    const page = await signedIn()
    await page.goto(`${app.baseUrl}/metrics?name=responseTimeMs&bucket=raw`)
    const chart = page.locator(".uplot-box[role=img]")
    await chart.waitFor()
    expect(await chart.getAttribute("aria-label")).toMatch(/^responseTimeMs: 30 points in 2 series/)
    expect(await page.locator(".u-legend").textContent()).toMatch(/planner.*llm|llm.*planner/)
    // The picker: a metric sent as points counts them; one the detector derives from spans has windows only.
    const meta = (name: string) =>
      page.locator(".metric-picker li").filter({ has: page.locator(".metric-name", { hasText: new RegExp(`^${name}$`) }) }).locator(".metric-meta").textContent()
    expect(await meta("responseTimeMs")).toMatch(/^5 services · 30 points · /)
    expect(await meta("errorRate")).toMatch(/^5 services · windows only · /)
    await screenshot(page, "metrics")
    await page.getByRole("button", { name: /Last hour/ }).click()
    await page.getByRole("button", { name: "Last 15 minutes" }).click()
    await expect.poll(() => page.url()).toContain("from=now-15m")
    await page.reload()
    await page.getByRole("button", { name: /Last 15 minutes/ }).waitFor()
    await page.goBack()
    await page.getByRole("button", { name: /Last hour/ }).waitFor()
    await page.context().close()
  })

  it("shows a banner that retries while the service answers 429", async () => {
    const t = await app.tenant(["ingest", "query"], { quotas: { requestsPerSecond: 1 } })
    const page = await newPage(browser)
    await page.goto(`${app.baseUrl}/#key=${t.key}`)
    await page.getByText(/rate-limiting this tenant \(429\)/).waitFor({ timeout: 20_000 })
    await screenshot(page, "banner-429")
    await page.context().close()
  })
})
