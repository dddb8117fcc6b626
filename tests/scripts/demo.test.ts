import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import type { MetricNamesView, ServiceGraphView } from "../../src/domain/consoleViews.ts"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"
import { startProcess } from "../support/processes.ts"

let app: TestApp
beforeAll(async () => {
  app = await startApp()
})
afterAll(async () => {
  await app.close()
})

const get = async <A>(key: string, path: string): Promise<A> => {
  const res = await call(app, key, "GET", path)
  expect(res.status, path).toBe(200)
  return (await res.json()) as A
}

interface Alert { id: string; type: string; metricName: string | null; serviceName: string | null; state: string }
interface Execution { traceId: string; spanId: string; source: string; serviceName: string; status: string }

describe("npm run demo", () => {
  // Measured under a load average of 15 on 2 cores: the demo process 43 s (history 17 s); quiet, about half.
  it("warms the detector with history, then a latency spike opens an anomaly alert; executions, services and metrics are there, and it stops by itself", async () => {
    const t = await app.tenant()
    // 2.5 minutes of history (13 windows of 10 s: the detector warms up after 10), a 10 s spike right away, 15 s live.
    const demo = startProcess("scripts/demo.ts", [
      "--url", app.baseUrl, "--key", t.key, "--minutes", "0.25", "--backfill", "2.5m", "--first-spike", "0s", "--spike-length", "10s", "--seed", "11"
    ], {})
    try {
      // The vector database is 25 times slower during the spike: its search series must be flagged.
      // About 20 s after the demo starts on a quiet machine; the margin is for a loaded one.
      const alert = await eventually(async () => {
        const { alerts } = await get<{ alerts: Array<Alert> }>(t.key, "/api/alerts?state=open")
        return alerts.find((a) => a.type === "anomaly_detected" && a.metricName === "responseTimeMs" && a.serviceName === "vector-db")
      }, 80_000, 500).catch((e: unknown) => Promise.reject(new Error(`${String(e)}\ndemo output:\n${demo.out()}${demo.err()}`)))
      expect(alert.state).toBe("open")

      // History runs are OTLP traces, live ones native executions; one finished is the parent of its run's spans.
      const { executions, native } = await eventually(async () => {
        const page = await get<{ executions: Array<Execution> }>(t.key, "/api/executions?service=planner&limit=500")
        const finished = page.executions.find((e) => e.source === "api" && e.status !== "active")
        return finished === undefined ? undefined : { executions: page.executions, native: finished }
      }, 30_000, 500)
      expect(new Set(executions.map((e) => e.source))).toEqual(new Set(["api", "otlp"]))
      // The run's OTLP spans are their own batches: they may be stored a moment after the finish.
      const detail = await eventually(async () => {
        const d = await get<{ spans: Array<{ name: string; serviceName: string; parentSpanId: string | null }> }>(t.key, `/api/executions/${native.traceId}`)
        return d.spans.some((s) => s.name === "invoke_agent planner") && new Set(d.spans.map((s) => s.serviceName)).size >= 4 ? d : undefined
      }, 30_000, 500)
      expect(detail.spans.find((s) => s.name === "invoke_agent planner")?.parentSpanId).toBe(native.spanId)
      expect(new Set(detail.spans.map((s) => s.serviceName))).toEqual(new Set(["planner", "researcher", "tool-server", "vector-db"]))

      const { services } = await get<{ services: Array<{ service: string }> }>(t.key, "/api/services?from=now-10m")
      expect(services.map((s) => s.service).sort()).toEqual(["planner", "researcher", "tool-server", "vector-db"])
      const graph = await get<ServiceGraphView>(t.key, "/api/services/graph?from=now-10m")
      expect(graph.edges.map((e) => `${e.source}->${e.target}`)).toEqual(["planner->researcher", "researcher->tool-server", "tool-server->vector-db"])
      const names = await get<MetricNamesView>(t.key, "/api/metrics/names?from=now-10m")
      const byName = new Map(names.metrics.map((m) => [m.name, m]))
      for (const name of ["cpuUsagePercent", "memoryUsageMb"]) expect(byName.get(name)?.points, name).toBeGreaterThan(0)
      expect(byName.get("responseTimeMs")).toMatchObject({ windowed: true })
      expect(byName.get("errorRate")).toMatchObject({ windowed: true })

      expect(await demo.exited).toBe(0)
      expect(demo.out()).toMatch(/history: \d+ runs/)
      expect(demo.out()).toMatch(/done: \d+ runs/)
    } finally {
      await demo.stop(5_000)
    }
  }, 150_000)
})
