import { randomBytes } from "node:crypto"
import type { Browser, Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { withIngestQueue } from "../api/queue.ts"
import { buildConsole, launchBrowser, newPage, screenshot, watchPage } from "../support/browser.ts"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"
import { otlpTraces, spanId, traceId } from "../support/otlpJson.ts"
import type { SpanSpec } from "../support/otlpJson.ts"

// The service map, agents and jobs pages in headless Chromium against the real service, fed through
// the public API (OTLP/JSON spans); the aggregates the map reads are refreshed every second here.

let app: TestApp
let browser: Browser
let page: Page
let problems: Array<string>

beforeAll(async () => {
  await buildConsole()
  app = await startApp({}, { MPLP_AGGREGATE_REFRESH_SECONDS: "1" })
  browser = await launchBrowser()
  page = await newPage(browser)
  problems = watchPage(page)
}, 120_000)

afterAll(async () => {
  await browser?.close()
  await app?.close()
})

const signIn = async (key: string, path: string) => {
  await page.goto(`${app.baseUrl}${path}#key=${key}`)
}

describe("service map", () => {
  it("draws services as nodes left to right and their calls as keyboard-reachable edges with calls, errors and p95", async () => {
    const t = await app.tenant()
    const now = Date.now() - 60_000
    const spans: Array<{ trace: string; list: Array<SpanSpec> }> = []
    for (let i = 0; i < 10; i++) {
      const root = spanId()
      const order = spanId()
      const stock = spanId()
      const bill = spanId()
      const start = now + i * 1000
      spans.push({
        trace: traceId(),
        list: [
          { spanId: root, name: "GET /order", service: "gateway", startMs: start, endMs: start + 200 },
          { spanId: spanId(), parentSpanId: root, name: "check", service: "auth", startMs: start + 2, endMs: start + 8 },
          { spanId: order, parentSpanId: root, name: "create", service: "orders", startMs: start + 10, endMs: start + 60 + i, error: i % 5 === 0 },
          { spanId: stock, parentSpanId: order, name: "reserve", service: "inventory", startMs: start + 15, endMs: start + 30 },
          { spanId: spanId(), parentSpanId: stock, name: "UPDATE", service: "postgres", startMs: start + 16, endMs: start + 20 },
          { spanId: spanId(), parentSpanId: order, name: "INSERT", service: "postgres", startMs: start + 40, endMs: start + 45 },
          ...(i % 2 === 0
            ? [
                { spanId: bill, parentSpanId: root, name: "charge", service: "billing", startMs: start + 70, endMs: start + 150 },
                { spanId: spanId(), parentSpanId: bill, name: "INSERT", service: "postgres", startMs: start + 80, endMs: start + 90 }
              ]
            : [])
        ]
      })
    }
    for (const s of spans) expect((await call(app, t.key, "POST", "/v1/traces", otlpTraces(s.trace, s.list))).status).toBe(200)
    await eventually(async () => {
      const g = (await (await call(app, t.key, "GET", "/api/services/graph?from=now-15m")).json()) as { edges: Array<{ source: string; target: string; calls: number }> }
      return g.edges.length === 7 && g.edges.find((e) => e.source === "gateway" && e.target === "orders")?.calls === 10 ? g : undefined
    }, 30_000, 300)

    await signIn(t.key, "/services?from=now-15m")
    const edge = page.locator('[data-edge="gateway->orders"]')
    await edge.waitFor()
    const label = (await edge.getAttribute("aria-label")) ?? ""
    expect(label).toContain("gateway calls orders: 10 calls")
    expect(label).toMatch(/2 errors|20 % errors/)
    expect(label).toMatch(/p95 \d+(\.\d+)? ms/)
    // Errors by more than colour: the edge's own words, and a dashed line.
    expect(await edge.textContent()).toContain("⚠ 20 % errors")
    expect(await page.locator(".edge-line.bad").count()).toBe(1)
    const clean = page.locator('[data-edge="orders->postgres"]')
    expect(await clean.getAttribute("aria-label")).toContain("orders calls postgres: 10 calls, no errors")

    // Layered left to right: caller, callee, its callee.
    const x = async (id: string) => (await page.locator(`[data-node="${id}"]`).boundingBox())?.x ?? Number.NaN
    const [gx, ox, px] = [await x("gateway"), await x("orders"), await x("postgres")]
    expect(gx).toBeLessThan(ox)
    expect(ox).toBeLessThan(px)

    // Keyboard: Tab reaches the edges; Enter pins one (in the URL) and shows its numbers.
    expect(await edge.getAttribute("tabindex")).toBe("0")
    await edge.focus()
    await page.keyboard.press("Enter")
    await page.waitForURL(/edge=gateway-%3Eorders|edge=gateway->orders/)
    const detail = page.locator(".edge-detail")
    await detail.waitFor()
    expect(await detail.innerText()).toMatch(/Calls:?\s*10/)
    await screenshot(page, "services")
    await page.reload()
    await detail.waitFor()
    // prefers-color-scheme: dark, for a person to check the contrast.
    const dark = await newPage(browser, { colorScheme: "dark" })
    await dark.goto(`${app.baseUrl}/services?from=now-15m#key=${t.key}`)
    await dark.locator('[data-edge="gateway->orders"]').waitFor()
    await screenshot(dark, "services-dark")
    expect(problems).toEqual([])
  })
})

describe("agents", () => {
  it("says how to send GenAI spans when there are none", async () => {
    const t = await app.tenant()
    await signIn(t.key, "/agents")
    const empty = page.getByText("No GenAI spans in this range")
    await empty.waitFor()
    expect(await page.locator(".empty").innerText()).toContain("gen_ai.usage.input_tokens")
    expect(await page.locator(".empty").innerText()).toContain(`x-api-key=${t.key}`)
    await screenshot(page, "agents-empty")
  })

  it("shows usage by model and the agent graph from GenAI spans", async () => {
    const t = await app.tenant()
    const trace = traceId()
    const agent = spanId()
    const now = Date.now() - 30_000
    const spans: Array<SpanSpec> = [
      { spanId: agent, name: "invoke_agent planner", service: "agents", startMs: now, endMs: now + 3000, attributes: { "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner" } },
      {
        spanId: spanId(), parentSpanId: agent, name: "chat gpt-4o", service: "agents", startMs: now + 100, endMs: now + 1100,
        attributes: { "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "gen_ai.provider.name": "openai", "gen_ai.usage.input_tokens": 1200, "gen_ai.usage.output_tokens": 300 }
      },
      { spanId: spanId(), parentSpanId: agent, name: "execute_tool web_search", service: "agents", startMs: now + 1200, endMs: now + 1900, attributes: { "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "web_search" } }
    ]
    expect((await call(app, t.key, "POST", "/v1/traces", otlpTraces(trace, spans))).status).toBe(200)
    await eventually(async () => {
      const u = (await (await call(app, t.key, "GET", "/api/genai/usage?from=now-15m")).json()) as { groups: Array<{ key: string }> }
      return u.groups.some((g) => g.key === "gpt-4o") ? u : undefined
    }, 30_000, 300)
    await signIn(t.key, "/agents?from=now-15m")
    await page.locator('[data-usage-key="gpt-4o"]').waitFor()
    expect(await page.locator('[data-usage-key="gpt-4o"]').innerText()).toContain("1,200")
    await page.locator('[data-node="agent:planner"]').waitFor()
    expect(await page.locator('[data-edge="agent:planner->model:gpt-4o"]').count()).toBe(1)
    // The model has no price in this tenant's table: its tokens are unpriced, never "$0"; one call is "1 call".
    expect(await page.locator('[data-usage-key="gpt-4o"]').innerText()).toContain("no price")
    expect(await page.locator('[data-node="model:gpt-4o"]').textContent()).toContain("1,500 tok · no price")
    // The planner's usage is on its model call (its edge and the model say it): no "0 tok · $0" on it.
    const planner = (await page.locator('[data-node="agent:planner"]').textContent()) ?? ""
    expect(planner).toContain("1 call · p95")
    expect(planner).not.toContain("$0")
    const toolEdge = (await page.locator('[data-edge="agent:planner->tool:web_search"]').textContent()) ?? ""
    expect(toolEdge).toContain("1 call")
    expect(toolEdge).not.toContain("1 calls")
    await screenshot(page, "agents")
  })
})

describe("jobs", () => {
  it("lists the tenant's dead-lettered jobs with their reasons", async () => {
    const t = await app.tenant()
    await signIn(t.key, "/jobs")
    await page.getByText("No job failed for good in this range").waitFor()
    // A job that can never succeed (its payload no longer decodes), as an older producer might have queued it.
    const jobId = await withIngestQueue(app, async (queue) => {
      const job = await queue.add("metrics", { _tag: "metrics", tenantId: t.id, points: "not a list" }, { jobId: `${t.id}.poison-${randomBytes(4).toString("hex")}`, attempts: 3 })
      return job.id ?? ""
    })
    await eventually(async () => {
      const { jobs } = (await (await call(app, t.key, "GET", "/api/jobs?state=failed")).json()) as { jobs: Array<{ jobId: string }> }
      return jobs.some((j) => j.jobId === jobId) ? jobs : undefined
    })
    await page.reload()
    const row = page.locator(`[data-job-id="${jobId}"]`)
    await row.waitFor()
    expect(await row.innerText()).toMatch(/payload does not decode/)
    expect(await row.innerText()).toContain("metrics")
    await screenshot(page, "jobs")

    // The cause is fixed (the payload now decodes); Retry runs the job again and it leaves the list.
    await withIngestQueue(app, async (queue) =>
      (await queue.getJob(jobId))?.updateData({ _tag: "metrics", tenantId: t.id, receivedAtMs: Date.now(), source: "native", points: [{ name: "retried", value: 7, timeMs: Date.now(), serviceName: "", traceId: null, attributes: {} }] }))
    await row.getByRole("button", { name: `Retry job ${jobId}` }).click()
    await page.getByText("No job failed for good in this range").waitFor()
    await eventually(async () => {
      const rows = await app.sql("SELECT value FROM metric_points WHERE tenant_id = $1 AND name = 'retried'", [t.id])
      return rows.length === 1 ? rows : undefined
    })
    expect(problems).toEqual([])
  })

  it("says why a retry is refused: the job was retried meanwhile and is no longer failed", async () => {
    const t = await app.tenant()
    const jobId = await withIngestQueue(app, async (queue) => {
      const job = await queue.add("metrics", { _tag: "metrics", tenantId: t.id, points: "not a list" }, { jobId: `${t.id}.poison-${randomBytes(4).toString("hex")}`, attempts: 1 })
      return job.id ?? ""
    })
    await eventually(async () => {
      const { jobs } = (await (await call(app, t.key, "GET", "/api/jobs?state=failed")).json()) as { jobs: Array<{ jobId: string }> }
      return jobs.some((j) => j.jobId === jobId) ? jobs : undefined
    })
    await page.goto("about:blank") // the previous test left this page on /jobs: a new document, so the new key is read
    await signIn(t.key, "/jobs")
    const row = page.locator(`[data-job-id="${jobId}"]`)
    await row.waitFor()
    // Another operator fixes and retries it behind this page's back; it completes.
    await withIngestQueue(app, async (queue) =>
      (await queue.getJob(jobId))?.updateData({ _tag: "metrics", tenantId: t.id, receivedAtMs: Date.now(), source: "native", points: [{ name: "fixed", value: 1, timeMs: Date.now(), serviceName: "", traceId: null, attributes: {} }] }))
    expect((await call(app, t.key, "POST", `/api/jobs/${jobId}/retry`)).status).toBe(202)
    await eventually(async () => ((await app.sql("SELECT 1 FROM metric_points WHERE tenant_id = $1 AND name = 'fixed'", [t.id])).length === 1 ? true : undefined))
    await row.getByRole("button", { name: `Retry job ${jobId}` }).click()
    const refusal = page.getByRole("alert").filter({ hasText: `retrying job ${jobId}` })
    await refusal.waitFor()
    expect(await refusal.innerText()).toMatch(/409: .*not failed/)
    await screenshot(page, "jobs-retry-refused")
  })
})
