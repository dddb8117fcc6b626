import { expect } from "@effect/vitest"
import type { TestApp } from "./harness.ts"

export interface SseEvent {
  readonly id: string
  readonly event: string
  readonly data: {
    kind: string
    execution: { executionId: string; status: string; progressPercentage: number | null; currentOperation: string | null; metrics: Record<string, number>; lastEvents: Array<{ eventName: string }> }
  }
}

/** A real HTTP client on the live view: parses SSE frames as they arrive. */
export const openLive = async (app: TestApp, key: string, headers: Record<string, string> = {}) => {
  const abort = new AbortController()
  const res = await fetch(`${app.baseUrl}/api/executions/live`, { headers: { "x-api-key": key, ...headers }, signal: abort.signal })
  expect(res.status).toBe(200)
  expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/)
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  let buffer = ""
  let connected = false
  const events: Array<SseEvent> = []
  const pump = (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) return
        buffer += value
        let at: number
        while ((at = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, at)
          buffer = buffer.slice(at + 2)
          if (frame.includes(": connected")) connected = true
          const fields = Object.fromEntries(frame.split("\n").filter((l) => !l.startsWith(":") && l.includes(": ")).map((l) => [l.slice(0, l.indexOf(": ")), l.slice(l.indexOf(": ") + 2)]))
          if (fields.data !== undefined) events.push({ id: fields.id ?? "", event: fields.event ?? "", data: JSON.parse(fields.data) as SseEvent["data"] })
        }
      }
    } catch {
      // aborted
    }
  })()
  const until = async <A>(f: () => A | undefined, timeoutMs = 15_000): Promise<A> => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const v = f()
      if (v !== undefined) return v
      if (Date.now() > deadline) throw new Error(`live view: condition not met within ${timeoutMs} ms; got ${JSON.stringify(events.map((e) => e.event))}`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }
  await until(() => (connected ? true : undefined))
  return {
    events,
    until,
    close: async () => {
      abort.abort()
      await pump
    }
  }
}

