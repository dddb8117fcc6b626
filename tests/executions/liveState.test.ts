import { describe, expect, it } from "@effect/vitest"
import type { ExecutionJob } from "../../src/executions/liveState.ts"
import { applyStep, LAST_EVENTS, started } from "../../src/executions/liveState.ts"

const base = { tenantId: "t", receivedAtMs: Date.parse("2026-12-01T10:00:00Z"), traceId: "a".repeat(32) }
const start = started({
  ...base, _tag: "execution-start", spanId: "1".repeat(16), parentSpanId: null, startTimeMs: base.receivedAtMs,
  request: { operationName: "plan", serviceName: "agent", context: { contextId: "c", userId: "u" } }
})
const update = (seq: number, u: Extract<ExecutionJob, { _tag: "execution-update" }>["update"]): ExecutionJob => ({ ...base, _tag: "execution-update", seq, update: u })
const event = (i: number) => ({ eventName: `e${i}`, eventType: "tool", timestamp: base.receivedAtMs + i })

describe("a trace actor's live state", () => {
  it("folds updates as the database applies them: latest progress, operation and metrics, the last events", () => {
    let s = applyStep(start, update(2, { progressPercentage: 30, currentOperation: "search", metrics: { tokens: 10, cpu: 5 }, events: [event(1), event(2)] }))
    s = applyStep(s, update(3, { metrics: { tokens: 25 }, events: [event(3), event(4), event(5), event(6)] }))
    expect(s).toMatchObject({ status: "active", progressPercentage: 30, currentOperation: "search", metrics: { tokens: 25, cpu: 5 } })
    expect(s.lastEvents.map((e) => e.eventName)).toEqual(["e2", "e3", "e4", "e5", "e6"])
    expect(s.lastEvents).toHaveLength(LAST_EVENTS)
  })

  it("a finish ends it; an update arriving after the finish adds new metrics but changes neither outcome nor values", () => {
    const running = applyStep(start, update(2, { progressPercentage: 60, metrics: { tokens: 10 } }))
    const failed = applyStep(running, { ...base, _tag: "execution-finish", seq: 3, result: { success: false, finalMetrics: { tokens: 12 } } })
    expect(failed).toMatchObject({ status: "failed", progressPercentage: 60, currentOperation: null, metrics: { tokens: 12 } })
    const late = applyStep(failed, update(4, { progressPercentage: 90, status: "paused", currentOperation: "late", metrics: { tokens: 99, extra: 1 } }))
    expect(late).toMatchObject({ status: "failed", progressPercentage: 60, currentOperation: null, metrics: { tokens: 12, extra: 1 } })
    expect(applyStep(running, { ...base, _tag: "execution-finish", seq: 3, result: { success: true } })).toMatchObject({ status: "completed", progressPercentage: 100 })
  })
})
