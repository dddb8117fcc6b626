import type { Page } from "playwright-core"
import { randomUUID } from "node:crypto"
import { ensureWebBuilt } from "../scripts/buildWeb.ts"
import type { ExecutionDetailView } from "../src/domain/queryViews.ts"
import type { SeriesView } from "../src/domain/queryViews.ts"
import { buildSpanTree, criticalPath } from "../src/query/spanTree.ts"
import { launchBrowser, newPage } from "../tests/support/browser.ts"
import { otlpTraces, spanId, traceId } from "../tests/support/otlpJson.ts"
import type { SpanSpec } from "../tests/support/otlpJson.ts"
import { createTenant, sleep } from "./client.ts"
import { prng } from "./data.ts"
import { fig, log } from "./harness.ts"
import type { Figure, Options, ScenarioResult } from "./harness.ts"
import { startService } from "./service.ts"

// The console in headless Chromium against the service as `npm start` runs it: how long a 10,000-span
// waterfall and a 10,000-point chart take from the moment their data is in the page to the frame that
// shows them (the console's own performance marks, web/src/perf.ts), plus the whole navigation and a
// real trace sent through OTLP. The two synthetic payloads are answered by the browser (page.route)
// so the figure is the browser's work, not the database's.

export const SPANS = 10_000
export const POINTS = 10_000

/** A multi-agent trace: a planner fanning out to agents that call tools and models, some failing. */
export const agentTrace = (n: number, t0: number): Array<SpanSpec> => {
  const rnd = prng(7)
  const spans: Array<SpanSpec> = [{ spanId: spanId(), name: "plan", service: "planner", startMs: t0, endMs: t0 + 60_000 }]
  const services = ["researcher", "writer", "critic", "tools", "llm", "retriever", "browser", "coder"]
  while (spans.length < n) {
    const parent = spans[Math.floor(rnd() * Math.min(spans.length, 2000))]!
    const width = parent.endMs - parent.startMs
    if (width < 2) continue
    const start = parent.startMs + rnd() * width * 0.8
    const end = Math.min(parent.endMs, start + Math.max(1, rnd() * width * 0.3))
    const service = services[Math.floor(rnd() * services.length)]!
    spans.push({ spanId: spanId(), parentSpanId: parent.spanId, name: `${service}.step${spans.length % 37}`, service, startMs: start, endMs: end, error: rnd() < 0.02, attributes: { "step.index": spans.length } })
  }
  return spans
}

/** What GET /api/executions/{id} would answer for those spans (tree, self times, critical path by the server's code). */
export const detailOf = (trace: string, spans: ReadonlyArray<SpanSpec>): ExecutionDetailView => {
  const inputs = spans.map((s) => ({ spanId: s.spanId, parentSpanId: s.parentSpanId ?? null, name: s.name, serviceName: s.service, startMs: s.startMs, endMs: s.endMs, error: s.error === true }))
  const tree = buildSpanTree(inputs)
  const path = criticalPath(tree.roots)
  const root = spans[0]!
  const iso = (ms: number) => new Date(ms).toISOString()
  return {
    executionId: trace, traceId: trace, spanId: root.spanId, parentSpanId: null, operationName: root.name, serviceName: root.service, operationType: null, priority: null,
    status: "completed", source: "otlp", startTime: iso(root.startMs), endTime: iso(root.endMs), durationMs: root.endMs - root.startMs,
    context: {}, tags: {}, metadata: {}, samplingRate: 1, traceFlags: 1, progressPercentage: null, currentOperation: null, metrics: {}, customAttributes: {},
    result: null, errors: [], warnings: [], performanceScore: null, genai: null, events: [], metricPoints: [], anomalies: [], analysis: null,
    spans: tree.ordered.map((node) => ({
      spanId: node.span.spanId, parentSpanId: node.span.parentSpanId, name: node.span.name, serviceName: node.span.serviceName, kind: 2,
      statusCode: node.span.error ? 2 : 1, statusMessage: node.span.error ? "failed" : null, startTime: iso(node.span.startMs), endTime: iso(node.span.endMs),
      durationMs: node.span.endMs - node.span.startMs, depth: node.depth, selfTimeMs: node.selfTimeMs, children: node.children.map((c) => c.span.spanId),
      criticalPathMs: path.timeBySpan.get(node.span.spanId) ?? 0, attributes: {}, events: [], genai: null
    }))
  }
}

export const seriesOf = (points: number, t0: number): (typeof SeriesView)["Type"] => {
  const rnd = prng(11)
  return {
    name: "bench.latencyMs", agg: "avg", bucket: "raw", bucketSeconds: null, source: "metric_points", from: new Date(t0).toISOString(), to: new Date(t0 + points * 1000).toISOString(),
    groupBy: null, truncated: false,
    series: [{ service: null, points: Array.from({ length: points }, (_, i) => ({ time: new Date(t0 + i * 1000).toISOString(), value: 100 + 30 * Math.sin(i / 300) + rnd() * 20, count: 1 })) }]
  }
}

/** The `name` measure the console records (web/src/perf.ts), and when its end was, from navigation start. */
const measure = async (page: Page, name: string) => {
  // A function, not a string: the page's CSP forbids eval, which a string predicate needs.
  await page.waitForFunction((n) => performance.getEntriesByName(n, "measure").length > 0, name, { timeout: 60_000 })
  return (await page.evaluate(`(() => { const m = performance.getEntriesByName(${JSON.stringify(name)}, "measure")[0]; return [m.duration, m.startTime + m.duration] })()`)) as [number, number]
}

const scrollToEnd = (page: Page) =>
  page.evaluate(`new Promise((resolve) => {
    const el = document.querySelector(".wf-scroll")
    const t0 = performance.now()
    el.scrollTop = el.scrollHeight
    requestAnimationFrame(() => requestAnimationFrame(() => resolve([performance.now() - t0, document.querySelectorAll("[data-span-id]").length, !!document.querySelector('[data-index="${SPANS - 1}"]')])))
  })`) as Promise<[number, number, boolean]>

export const runBrowser = async (o: Options): Promise<ScenarioResult> => {
  const started = performance.now()
  const build = await ensureWebBuilt({ log })
  log(`console: ${build.built ? "built" : "up to date"} (${(build.info.firstLoadJsGzipBytes / 1024).toFixed(1)} KB first-load JS gzipped)`)
  const service = await startService()
  const browser = await launchBrowser()
  const figures: Array<Figure> = []
  const details: Record<string, unknown> = {}
  try {
    const tenant = await createTenant(service.baseUrl, service.adminToken, "bench-console")
    const t0 = Date.now() - 120_000
    const synthetic = `${randomUUID().replace(/-/g, "")}`
    const detailJson = JSON.stringify(detailOf(synthetic, agentTrace(SPANS, t0)))
    const seriesJson = JSON.stringify(seriesOf(POINTS, t0 - POINTS * 1000))
    const open = async (path: string) => {
      const page = await newPage(browser, { width: 1600, height: 1000 })
      await page.route(`**/api/executions/${synthetic}`, (r) => r.fulfill({ contentType: "application/json", body: detailJson }))
      await page.route("**/api/metrics/series*", (r) => r.fulfill({ contentType: "application/json", body: seriesJson }))
      await page.goto(`${service.baseUrl}/#key=${tenant.key}`)
      await page.waitForSelector("main h1")
      await page.goto(`${service.baseUrl}${path}`)
      return page
    }
    const wf: Array<number> = []
    const wfNav: Array<number> = []
    const scroll: Array<number> = []
    const chart: Array<number> = []
    const chartNav: Array<number> = []
    for (let run = 0; run < o.runs; run++) {
      const page = await open(`/executions/${synthetic}`)
      const [ms, at] = await measure(page, "waterfall")
      wf.push(ms)
      wfNav.push(at)
      const [scrollMs, rendered, last] = await scrollToEnd(page)
      if (!last) throw new Error("the waterfall's last row did not render after scrolling to the end")
      scroll.push(scrollMs)
      details.renderedRows = rendered
      await page.context().close()
      const chartPage = await open(`/metrics?name=bench.latencyMs&bucket=raw`)
      const [cms, cat] = await measure(chartPage, "chart")
      chart.push(cms)
      chartNav.push(cat)
      await chartPage.context().close()
      log(`run ${run + 1}: waterfall ${ms.toFixed(0)} ms (navigation ${at.toFixed(0)} ms), scroll to end ${scrollMs.toFixed(0)} ms, chart ${cms.toFixed(0)} ms`)
    }
    figures.push(fig("browser", `${SPANS}-span waterfall: data → painted`, "ms", wf))
    figures.push(fig("browser", `${SPANS}-span waterfall: navigation → painted`, "ms", wfNav))
    figures.push(fig("browser", `${SPANS}-span waterfall: scroll to the last row → painted`, "ms", scroll))
    figures.push(fig("browser", `${POINTS}-point chart: data → drawn`, "ms", chart))
    figures.push(fig("browser", `${POINTS}-point chart: navigation → drawn`, "ms", chartNav))
    figures.push(fig("browser", "first-load JS gzipped", "KB", [build.info.firstLoadJsGzipBytes / 1024]))

    // The same size of trace end to end: sent as OTLP, read back by the page from the API.
    const real = traceId()
    const sent = await fetch(`${service.baseUrl}/v1/traces`, {
      method: "POST",
      headers: { authorization: `Bearer ${tenant.key}`, "content-type": "application/json" },
      body: JSON.stringify(otlpTraces(real, agentTrace(SPANS, t0)))
    })
    if (sent.status !== 200) throw new Error(`OTLP: ${sent.status} ${await sent.text()}`)
    // Until every span is stored, or the count stops growing (the API caps the spans it returns).
    let spans = 0
    let steady = 0
    for (let i = 0; i < 240 && spans < SPANS && steady < 6; i++) {
      const r = await fetch(`${service.baseUrl}/api/executions/${real}`, { headers: { authorization: `Bearer ${tenant.key}` } })
      const n = r.status === 200 ? ((await r.json()) as ExecutionDetailView).spans.length : 0
      steady = n > 0 && n === spans ? steady + 1 : 0
      spans = n
      if (spans < SPANS) await sleep(500)
    }
    details.realTraceSpans = spans
    const realNav: Array<number> = []
    for (let run = 0; run < o.runs; run++) {
      const page = await open(`/executions/${real}`)
      realNav.push((await measure(page, "waterfall"))[1])
      await page.context().close()
    }
    figures.push(fig("browser", `real trace via the API (${spans} spans): navigation → painted`, "ms", realNav))
  } finally {
    await browser.close()
    await service.stop()
  }
  return { scenario: "browser", seconds: (performance.now() - started) / 1000, figures, measured: "the console's performance marks in headless Chromium", details }
}
