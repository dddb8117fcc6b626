import type { LiveChange } from "../../../src/domain/liveViews.ts"
import { parseFrames } from "../lib/sse.ts"
import { session } from "./session.ts"

// The live view (GET /api/executions/live, Server-Sent Events) read with fetch rather than EventSource:
// the key goes in the Authorization header as for every other call (EventSource cannot send headers,
// and a key in the URL would end up in logs). Reconnects after a drop, resuming with Last-Event-ID.

export interface LiveHandlers {
  readonly onChange: (change: LiveChange) => void
  readonly onConnected: (connected: boolean) => void
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
