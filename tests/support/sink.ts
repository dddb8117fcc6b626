import { createServer } from "node:http"
import type { Server } from "node:http"
import { isValid } from "../../src/alerting/signing.ts"

export interface Received {
  readonly id: string
  readonly validSignature: boolean
  readonly body: { type: string; timestamp: string; data: Record<string, unknown> }
  readonly at: number
}

export interface Scripted {
  readonly status: number
  readonly retryAfter?: string
  readonly delayMs?: number
}

export interface Sink {
  readonly url: string
  readonly received: Array<Received>
  /** Answers the next requests with these (then 200); every request, answered or not, is in `attempts`. */
  readonly respondWith: (responses: ReadonlyArray<number | Scripted>) => void
  readonly attempts: Array<{ readonly id: string; readonly status: number; readonly at: number }>
  readonly close: () => Promise<void>
}

/** A webhook receiver on loopback that checks every Standard Webhooks signature with `secret`. */
export const startSink = (secret: string): Promise<Sink> =>
  new Promise((resolve) => {
    const received: Array<Received> = []
    const attempts: Sink["attempts"] = []
    const queued: Array<Scripted> = []
    const server: Server = createServer((req, res) => {
      req.socket.setTimeout(0)
      let body = ""
      req.on("data", (c: Buffer) => (body += c.toString()))
      req.on("end", async () => {
        const { status, retryAfter, delayMs } = queued.shift() ?? { status: 200 }
        if (delayMs !== undefined) await new Promise((r) => setTimeout(r, delayMs))
        attempts.push({ id: String(req.headers["webhook-id"] ?? ""), status, at: Date.now() })
        if (status < 300) {
          received.push({
            id: String(req.headers["webhook-id"] ?? ""),
            validSignature: isValid({ headers: req.headers, body, secret, nowSec: Date.now() / 1000 }),
            body: JSON.parse(body) as Received["body"],
            at: Date.now()
          })
        }
        res.statusCode = status
        if (retryAfter !== undefined) res.setHeader("retry-after", retryAfter)
        res.end()
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const a = server.address()
      const port = typeof a === "object" && a !== null ? a.port : 0
      resolve({
        url: `http://127.0.0.1:${port}/hook`,
        received,
        attempts,
        respondWith: (rs) => queued.push(...rs.map((r) => (typeof r === "number" ? { status: r } : r))),
        close: () => new Promise((r) => server.close(() => r()))
      })
    })
  })
