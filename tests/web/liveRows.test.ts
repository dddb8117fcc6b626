import { describe, expect, it } from "vitest"
import { parseFrames } from "../../web/src/lib/sse.ts"
import { applyLiveChange } from "../../web/src/lib/liveRows.ts"
import type { LiveChange } from "../../src/domain/liveViews.ts"

const execution = (executionId: string, extra: Partial<LiveChange["execution"]> = {}): LiveChange["execution"] => ({
  executionId, traceId: executionId, serviceName: "s", operationName: "o", status: "active", progressPercentage: null, currentOperation: null,
  metrics: {}, lastEvents: [], startTime: "2026-12-01T10:00:00.000Z", updatedAt: "2026-12-01T10:00:00.000Z", ...extra
})
const row = (executionId: string, progressPercentage: number | null) => ({ executionId, status: "active", progressPercentage, currentOperation: null, other: "kept" })

describe("the console's live view", () => {
  it("reads SSE frames split anywhere, keeping an incomplete frame for the next chunk", () => {
    const text = ": connected\n\nid: 1-0\nevent: update\ndata: {\"a\":1}\n\nid: 2-0\nevent: fin"
    const { frames, rest } = parseFrames(text)
    expect(frames).toEqual([{}, { id: "1-0", event: "update", data: "{\"a\":1}" }])
    expect(rest).toBe("id: 2-0\nevent: fin")
    expect(parseFrames(`${rest}ish\ndata: {}\n\n`).frames).toEqual([{ id: "2-0", event: "finish", data: "{}" }])
  })

  it("moves a shown row's progress, operation and status; an execution not on the page asks for the page again", () => {
    const page = { executions: [row("a", 10), row("b", null)], nextCursor: null }
    const moved = applyLiveChange(page, { kind: "update", execution: execution("b", { progressPercentage: 40, currentOperation: "search" }) })
    expect(moved.missing).toBe(false)
    expect(moved.page.executions).toEqual([row("a", 10), { ...row("b", 40), currentOperation: "search" }])
    expect(applyLiveChange(page, { kind: "finish", execution: execution("a", { status: "completed", progressPercentage: 100 }) }).page.executions[0]).toMatchObject({ status: "completed", progressPercentage: 100, other: "kept" })
    expect(applyLiveChange(page, { kind: "start", execution: execution("c") })).toEqual({ page, missing: true })
    expect(applyLiveChange(page, { kind: "timeout", execution: execution("c", { status: "timed_out" }) }).missing).toBe(false)
  })
})
