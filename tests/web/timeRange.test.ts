import { describe, expect, it } from "vitest"
import { fromLocalInput, normaliseInput, parseTime, relativeLabel, resolveRange, shiftRange, toLocalInput, zoomOut } from "../../web/src/lib/timeRange.ts"

const NOW = Date.UTC(2026, 10, 26, 12, 0, 0)

describe("time ranges", () => {
  it("parses what the API parses: now, now-<n><unit>, ISO-8601, epoch ms", () => {
    expect(parseTime("now", NOW)).toBe(NOW)
    expect(parseTime("now-15m", NOW)).toBe(NOW - 900_000)
    expect(parseTime("now-2d", NOW)).toBe(NOW - 2 * 86_400_000)
    expect(parseTime("2026-11-26T10:00:00Z", NOW)).toBe(Date.UTC(2026, 10, 26, 10))
    expect(parseTime(String(NOW), 0)).toBe(NOW)
    expect(parseTime("yesterday", NOW)).toBeNull()
    expect(parseTime("now-5x", NOW)).toBeNull()
  })

  it("resolves a range, refusing one that ends before it starts", () => {
    expect(resolveRange({ from: "now-1h", to: "now" }, NOW)).toEqual({ fromMs: NOW - 3_600_000, toMs: NOW })
    expect(resolveRange({ from: "now", to: "now-1h" }, NOW)).toHaveProperty("error")
    expect(resolveRange({ from: "soon", to: "now" }, NOW)).toHaveProperty("error")
  })

  it("labels relative ranges as Grafana does", () => {
    expect(relativeLabel({ from: "now-1h", to: "now" })).toBe("Last hour")
    expect(relativeLabel({ from: "now-15m", to: "now" })).toBe("Last 15 minutes")
    expect(relativeLabel({ from: "now-7d", to: "now" })).toBe("Last 7 days")
    expect(relativeLabel({ from: "now-2h", to: "now-1h" })).toBeNull()
  })

  it("reads typed local times in the viewer's zone and keeps other forms as they are", () => {
    expect(normaliseInput("2026-11-26 10:00", 60)).toBe("2026-11-26T09:00:00.000Z")
    expect(normaliseInput("2026-11-26T10:00:30", -300)).toBe("2026-11-26T15:00:30.000Z")
    expect(normaliseInput("2026-11-26", 0)).toBe("2026-11-26T00:00:00.000Z")
    expect(normaliseInput(" now-6h ", 60)).toBe("now-6h")
    expect(normaliseInput("2026-11-26T10:00:00+02:00", 60)).toBe("2026-11-26T10:00:00+02:00")
    expect(normaliseInput("tomorrow", 0)).toBeNull()
    expect(fromLocalInput(toLocalInput(NOW, 90), 90)).toBe(NOW)
  })

  it("moves and widens a range by its own width", () => {
    const r = { fromMs: NOW - 3_600_000, toMs: NOW }
    expect(shiftRange(r, -1)).toEqual({ from: new Date(NOW - 7_200_000).toISOString(), to: new Date(NOW - 3_600_000).toISOString() })
    expect(zoomOut(r)).toEqual({ from: new Date(NOW - 5_400_000).toISOString(), to: new Date(NOW + 1_800_000).toISOString() })
  })
})
