import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { call, eventually, startApp } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"

let app: TestApp
beforeAll(async () => {
  app = await startApp()
})
afterAll(async () => {
  await app.close()
})

interface WindowRow {
  count: number
  sum: number
  late_count: number
  revision: number
  evaluated: boolean
}

describe("event time, watermark and late points", () => {
  it("closes windows by watermark, corrects a closed window with a late point, and counts points beyond lateness", async () => {
    // Only the watermark closes windows here (no idle closing): size 1 s, lateness 2 s.
    const t = await app.tenant(["ingest", "query"], { windows: { sizeSeconds: 1, allowedLatenessSeconds: 2, idleTimeoutSeconds: 86_400 }, channels: [] })
    const base = Math.floor(Date.now() / 1000) * 1000 - 600_000
    const send = async (points: ReadonlyArray<{ t: number; v: number }>) => {
      const res = await call(app, t.key, "POST", "/api/metrics", { points: points.map((p) => ({ name: "depth", value: p.v, time: base + p.t, serviceName: "q" })) })
      expect(res.status).toBe(202)
    }
    const windowAt = (offsetMs: number) =>
      app.sql<WindowRow & Record<string, unknown>>(
        `SELECT count::int, sum, late_count, revision, evaluated_at IS NOT NULL AS evaluated FROM metric_windows
         WHERE tenant_id = $1 AND window_start = to_timestamp($2 / 1000.0)`, [t.id, base + offsetMs]
      ).then((r) => r[0])
    const rawCount = async () => (await app.sql<{ n: number }>("SELECT count(*)::int AS n FROM metric_points WHERE tenant_id = $1", [t.id]))[0]?.n

    // Two batches: once closed, the window's two partials are compacted into one (the correction below reads it).
    await send([1, 2, 3].map((v, i) => ({ t: 100 * i, v })))
    await send([4, 5].map((v, i) => ({ t: 300 + 100 * i, v })))
    await eventually(async () => ((await rawCount()) === 5 ? true : undefined))
    expect(await windowAt(0)).toBeUndefined() // the watermark (base + 0.4 s) has not passed window 0's end + 2 s

    await send([{ t: 4_500, v: 7 }]) // watermark base + 4.5 s: window [0, 1 s) closes, [4 s, 5 s) stays open
    const closed = await eventually(() => windowAt(0))
    expect(closed).toMatchObject({ count: 5, sum: 15, late_count: 0, revision: 0 })
    expect(await windowAt(4_000)).toBeUndefined()

    await send([{ t: 500, v: 10 }]) // late: its window is closed → corrected row
    const corrected = await eventually(async () => {
      const w = await windowAt(0)
      return w !== undefined && w.revision === 1 ? w : undefined
    })
    expect(corrected).toMatchObject({ count: 6, sum: 25, late_count: 1 })

    await send([{ t: 1_200, v: 3 }]) // beyond lateness, in a window never opened: stored raw, counted late, not evaluated
    const lateWindow = await eventually(() => windowAt(1_000))
    expect(lateWindow).toMatchObject({ count: 1, sum: 3, late_count: 1, evaluated: true })
    expect(await rawCount()).toBe(8)

    await send([{ t: 2_600, v: 1 }]) // within lateness (window end 3 s > watermark − lateness = 2.5 s): on time, still open
    await eventually(async () => ((await rawCount()) === 9 ? true : undefined))
    expect(await windowAt(2_000)).toBeUndefined()
    const metrics = await (await fetch(`${app.baseUrl}/metrics`)).text()
    expect(metrics).toMatch(/mplp_late_events(_total)?\{[^}]*\} 2\n/) // this app has no other tenant
  })
})
