import type { LiveChange } from "../../../src/domain/liveViews.ts"
import { session } from "./session.ts"

// The live view (GET /api/executions/live, Server-Sent Events) read with fetch rather than EventSource:
// the key goes in the Authorization header as for every other call (EventSource cannot send headers,
// and a key in the URL would end up in logs). Reconnects after a drop, resuming with Last-Event-ID.

export interface LiveHandlers {
  readonly onChange: (change: LiveChange) => void
  readonly onConnected: (connected: boolean) => void
}

/** SSE frames of `text` (complete ones), and the incomplete rest. */
export const parseFrames = (text: string): { readonly frames: ReadonlyArray<{ id?: string; event?: string; data?: string }>; readonly rest: string } => {
  const parts = text.split("\n\n")
  const rest = parts.pop() ?? ""
  const frames = parts.map((p) => {
    const f: { id?: string; event?: string; data?: string } = {}
    for (const line of p.split("\n")) {
      const at = line.indexOf(":")
      if (at <= 0) continue
      const name = line.slice(0, at)
      const value = line.slice(at + 1).replace(/^ /, "")
      if (name === "id" || name === "event") f[name] = value
      if (name === "data") f.data = f.data === undefined ? value : `${f.data}\n${value}`
    }
    return f
  })
  return { frames, rest }
}

/** Follows the signed-in tenant's live view until the returned function is called. */
export const followLive = (handlers: LiveHandlers): (() => void) => {
  const abort = new AbortController()
  let lastId: string | undefined
  const run = async () => {
    while (!abort.signal.aborted) {
      const key = session.get().key
      if (key === null) return
      try {
        const res = await fetch("/api/executions/live", {
          headers: { accept: "text/event-stream", authorization: `Bearer ${key}`, ...(lastId === undefined ? {} : { "last-event-id": lastId }) },
          signal: abort.signal
        })
        if (res.status === 401 || res.status === 403 || res.body === null) return
        if (res.ok) {
          handlers.onConnected(true)
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
          let buffer = ""
          for (;;) {
            const { value, done } = await reader.read()
            if (done) break
            const { frames, rest } = parseFrames(buffer + value)
            buffer = rest
            for (const f of frames) {
              if (f.id !== undefined) lastId = f.id
              if (f.data !== undefined) handlers.onChange(JSON.parse(f.data) as LiveChange)
            }
          }
        }
      } catch {
        // dropped or aborted: retried below unless aborted
      }
      handlers.onConnected(false)
      if (!abort.signal.aborted) await new Promise((r) => setTimeout(r, 2000))
    }
  }
  void run()
  return () => abort.abort()
}
