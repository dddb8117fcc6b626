import { describe, expect, it } from "vitest"
import { activeIn, chartWindow, distinct, eventTypeLabel, executionsWindow, filterAlerts, filtersFromParams, filtersToParams, formatZ, groupAlerts, stateQuery } from "../../web/src/lib/alerts.ts"
import { Z_CAP } from "../../src/detection/ewma.ts"
import type { AlertLike } from "../../web/src/lib/alerts.ts"

const T = Date.UTC(2026, 10, 26, 10, 0)
const MIN = 60_000
const at = (m: number) => new Date(T + m * MIN).toISOString()
const alert = (id: string, state: string, severity: string, opened: number, seen: number, resolved: number | null = null, more: Partial<AlertLike> = {}): AlertLike => ({
  id, state, severity, type: "anomaly_detected", serviceName: "checkout", openedAt: at(opened), lastSeenAt: at(seen), resolvedAt: resolved === null ? null : at(resolved), ...more
})

describe("alert filters in the URL", () => {
  it("default to what needs attention (open and acknowledged, every severity)", () => {
    expect(filtersFromParams(new URLSearchParams(""))).toEqual({ states: ["open", "acknowledged"], severities: ["critical", "warning"], type: null, service: null })
    expect(filtersFromParams(new URLSearchParams("state=open"))).toMatchObject({ states: ["open"] })
    expect(filtersFromParams(new URLSearchParams("state=all&severity=critical&type=execution_timeout&service=api"))).toEqual({
      states: ["open", "acknowledged", "resolved"], severities: ["critical"], type: "execution_timeout", service: "api"
    })
    // Unknown values are ignored rather than showing nothing.
    expect(filtersFromParams(new URLSearchParams("state=bogus&severity=info")).states).toEqual(["open", "acknowledged"])
  })

  it("round-trip through the URL, defaults left out", () => {
    for (const q of ["", "state=open", "state=all", "state=resolved&severity=warning", "type=budget_exceeded&service=a"]) {
      const f = filtersFromParams(new URLSearchParams(q))
      const p = new URLSearchParams()
      for (const [k, v] of Object.entries(filtersToParams(f))) if (v !== null) p.set(k, v)
      expect(p.toString(), q).toBe(new URLSearchParams(q).toString())
    }
    expect(stateQuery(filtersFromParams(new URLSearchParams("state=resolved,open")))).toBe("open,resolved")
  })
})

describe("which alerts a range shows", () => {
  it("those active at some point in it: opened before its end, not resolved before its start", () => {
    const a = alert("a", "resolved", "warning", 0, 5, 10)
    expect(activeIn(a, T + 11 * MIN, T + 20 * MIN)).toBe(false)
    expect(activeIn(a, T + 10 * MIN, T + 20 * MIN)).toBe(true)
    expect(activeIn(a, T - 20 * MIN, T - MIN)).toBe(false)
    // Still open: active up to now, however long ago it opened.
    expect(activeIn(alert("b", "open", "critical", -600, -590), T, T + MIN)).toBe(true)
  })

  it("filters by state, severity, type, service and range together", () => {
    const list = [
      alert("1", "open", "critical", 0, 1),
      alert("2", "open", "warning", 0, 1),
      alert("3", "acknowledged", "warning", 0, 1, null, { type: "execution_timeout", serviceName: "agent" }),
      alert("4", "resolved", "critical", 0, 1, 2)
    ]
    const f = filtersFromParams(new URLSearchParams("state=all"))
    expect(filterAlerts(list, f, null).map((a) => a.id)).toEqual(["1", "2", "3", "4"])
    expect(filterAlerts(list, filtersFromParams(new URLSearchParams("")), null).map((a) => a.id)).toEqual(["1", "2", "3"])
    expect(filterAlerts(list, filtersFromParams(new URLSearchParams("state=all&severity=critical")), null).map((a) => a.id)).toEqual(["1", "4"])
    expect(filterAlerts(list, { ...f, type: "execution_timeout" }, null).map((a) => a.id)).toEqual(["3"])
    expect(filterAlerts(list, { ...f, service: "checkout" }, null).map((a) => a.id)).toEqual(["1", "2", "4"])
    expect(filterAlerts(list, f, { fromMs: T + 3 * MIN, toMs: T + 4 * MIN }).map((a) => a.id)).toEqual(["1", "2", "3"])
  })
})

describe("grouping", () => {
  it("one group per state asked for, critical first then the most recently seen, with counts by severity", () => {
    const groups = groupAlerts([
      alert("w-old", "open", "warning", 0, 1),
      alert("c", "open", "critical", 0, 2),
      alert("w-new", "open", "warning", 0, 9),
      alert("ack", "acknowledged", "critical", 0, 3)
    ], ["open", "acknowledged", "resolved"])
    expect(groups.map((g) => [g.state, g.alerts.map((a) => a.id), g.critical, g.warning])).toEqual([
      ["open", ["c", "w-new", "w-old"], 1, 2],
      ["acknowledged", ["ack"], 1, 0],
      ["resolved", [], 0, 0]
    ])
    expect(groupAlerts([], ["resolved"]).map((g) => g.state)).toEqual(["resolved"])
  })

  it("lists distinct values for the filter menus, and names event types", () => {
    expect(distinct([alert("1", "open", "warning", 0, 1), alert("2", "open", "warning", 0, 1, null, { serviceName: "a" }), alert("3", "open", "warning", 0, 1, null, { serviceName: null })], (a) => a.serviceName)).toEqual(["a", "checkout"])
    expect(eventTypeLabel("agent_loop_suspected")).toBe("Agent loop suspected")
    expect(eventTypeLabel("something_new")).toBe("something new")
  })

  it("says a capped z (a series flat before the window) as what it means", () => {
    expect(formatZ(Z_CAP, String)).toBe("≥ 10⁶ (flat before)")
    expect(formatZ(-Z_CAP, String)).toBe("≤ −10⁶ (flat before)")
    expect(formatZ(5.25, String)).toBe("5.25")
    expect(formatZ(null, String)).toBe("–")
  })
})

describe("the alert's windows", () => {
  it("executions from 5 min before it opened to 5 min after it resolved", () => {
    expect(executionsWindow(alert("a", "resolved", "warning", 0, 3, 10), T + 60 * MIN)).toEqual({ from: at(-5), to: at(15) })
    // Open: up to now.
    expect(executionsWindow(alert("a", "open", "warning", 0, 3), T + 4 * MIN)).toEqual({ from: at(-5), to: at(4) })
  })

  it("the chart spans the context either side of the alert's life, not past now", () => {
    expect(chartWindow(alert("a", "resolved", "warning", 0, 3, 10), 15 * MIN, T + 60 * MIN)).toEqual({ fromMs: T - 15 * MIN, toMs: T + 25 * MIN })
    expect(chartWindow(alert("a", "open", "warning", 0, 3), 15 * MIN, T + 5 * MIN)).toEqual({ fromMs: T - 15 * MIN, toMs: T + 5 * MIN })
  })
})
