import { describe, expect, it } from "vitest"
import { formatAgo, formatCalls, formatCost, formatGenaiCell, formatCount, formatSpend, formatUsd, formatGenaiTotals, formatDateTime, formatDuration, formatOffset, formatPercent, formatRate, formatValue, unitOf } from "../../web/src/lib/format.ts"

const T = Date.UTC(2026, 10, 26, 9, 4, 5, 123)

describe("console formatting", () => {
  it("shows times in the viewer's zone with its UTC offset", () => {
    expect(formatDateTime(T, 60)).toBe("2026-11-26 10:04:05 UTC+01:00")
    expect(formatDateTime(T, -330, true)).toBe("2026-11-26 03:34:05.123 UTC-05:30")
    expect(formatDateTime(T, 0)).toBe("2026-11-26 09:04:05 UTC")
    // Crossing midnight changes the date, not only the hour.
    expect(formatDateTime(Date.UTC(2026, 10, 26, 23, 30), 120)).toBe("2026-11-27 01:30:00 UTC+02:00")
    expect(formatOffset(345)).toBe("UTC+05:45")
  })

  it("writes durations in ms, s, min and h", () => {
    expect(formatDuration(0.42)).toBe("0.42 ms")
    expect(formatDuration(12.5)).toBe("12.5 ms")
    expect(formatDuration(340)).toBe("340 ms")
    expect(formatDuration(1250)).toBe("1.25 s")
    expect(formatDuration(42_100)).toBe("42.1 s")
    expect(formatDuration(125_000)).toBe("2 min 05 s")
    expect(formatDuration(3_720_000)).toBe("1 h 02 min")
    expect(formatDuration(null)).toBe("–")
  })

  it("gives numbers their units", () => {
    expect(formatPercent(0.053)).toBe("5.3 %")
    expect(formatPercent(0.0004)).toBe("< 0.1 %")
    expect(formatRate(12.5)).toBe("12.5 req/s")
    expect(formatRate(0.5)).toBe("30 req/min")
    expect(formatRate(0.0005)).toBe("1.8 req/h")
    expect(formatCount(1234567)).toBe("1,234,567")
    expect(formatCount(12_345, true)).toBe("12.3k")
    expect(formatAgo(T - 90_000, T)).toBe("1 min ago")
  })

  it("reads a metric's unit from its name", () => {
    expect(unitOf("responseTimeMs")).toBe("ms")
    expect(unitOf("http.server.request.duration")).toBe("s")
    expect(unitOf("cpuUsagePercent")).toBe("percent")
    expect(unitOf("errorRate")).toBe("ratio")
    expect(unitOf("heapBytes")).toBe("bytes")
    expect(unitOf("queueDepth")).toBe("count")
    expect(formatValue(1500, "ms")).toBe("1.5 s")
    expect(formatValue(0.25, "s")).toBe("250 ms")
    expect(formatValue(71.5, "percent")).toBe("71.5 %")
    expect(formatValue(0.02, "ratio")).toBe("2 %")
    expect(formatValue(2048, "bytes")).toBe("2 KiB")
  })

  it("says unpriced tokens instead of folding them into $0", () => {
    expect(formatCost(0.01234, 0)).toBe("$0.0123")
    // an execution's cost reads as the usage table's and the graph's (formatUsd): sub-cent amounts keep their digits
    expect(formatCost(0.00123, 0)).toBe("$0.00123")
    expect(formatCost(0.5, 0)).toBe(formatUsd(0.5))
    // the executions table's cell: what happened, never "0 tok · $0"
    const g = { llmCalls: 0, toolCalls: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, unpricedTokens: 0 }
    expect(formatGenaiCell({ ...g, llmCalls: 1 })).toBe("1 LLM call · no usage")
    expect(formatGenaiCell({ ...g, toolCalls: 3 })).toBe("3 tool calls")
    expect(formatGenaiCell({ ...g, llmCalls: 2, inputTokens: 1_200, outputTokens: 300, costUsd: 0.00123 })).toBe("1,500 tok · $0.00123")
    expect(formatGenaiCell({ ...g, llmCalls: 2, inputTokens: 1_200, outputTokens: 300, unpricedTokens: 1_500 })).toBe("1,500 tok · no price")
    expect(formatGenaiCell(g)).toBe("–")
    expect(formatCost(12.5, 0)).toBe("$12.50")
    expect(formatCost(0, 2_454_000)).toBe("2.5M tok unpriced")
    expect(formatCost(3.2, 15_000)).toBe("$3.20 + 15k tok unpriced")
  })

  it("counts one call as a call, and says no price rather than $0 where nothing was priced", () => {
    expect(formatCalls(1)).toBe("1 call")
    expect(formatCalls(0)).toBe("0 calls")
    expect(formatCalls(12)).toBe("12 calls")
    expect(formatCalls(12_400, true)).toBe("12.4k calls")
    expect(formatUsd(0)).toBe("$0")
    // Sub-cent amounts keep their digits; a few tokens of a cheap model are not "$0" (nor "$0.").
    expect([0.0042, 0.00015, 0.000006, 0.00000015, 0.5, 12.5].map(formatUsd)).toEqual(["$0.0042", "$0.00015", "$0.00001", "<$0.00001", "$0.5", "$12.50"])
    expect(formatSpend(0, 0)).toBe("$0")
    expect(formatSpend(0, 1_500)).toBe("no price")
    expect(formatSpend(0.0042, 1_500)).toBe("$0.0042 + unpriced")
    expect(formatSpend(12.5, 0)).toBe("$12.50")
  })

  it("says what an execution's GenAI calls did, not zeros", () => {
    const none = { llmCalls: 0, toolCalls: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, unpricedTokens: 0 }
    expect(formatGenaiTotals(none)).toBe("no model or tool call")
    expect(formatGenaiTotals({ ...none, llmCalls: 1 })).toBe("1 LLM call · no token usage reported")
    expect(formatGenaiTotals({ ...none, llmCalls: 3, toolCalls: 2, inputTokens: 1_200, outputTokens: 300, costUsd: 0.0123 }))
      .toBe("3 LLM calls · 2 tool calls · 1,500 tokens · $0.0123")
    expect(formatGenaiTotals({ ...none, llmCalls: 1, inputTokens: 1_200, outputTokens: 300, unpricedTokens: 1_500 }))
      .toBe("1 LLM call · 1,500 tokens · 1,500 tok unpriced")
  })
})
