import { createServer } from "node:http"
import type { Server } from "node:http"
import { isValid } from "../../src/alerting/signing.ts"

export interface Received {
  readonly id: string
  readonly validSignature: boolean
  readonly body: { type: string; timestamp: string; data: Record<string, unknown> }
  readonly at: number
}

export interface Sink {
  readonly url: string
  readonly received: Array<Received>
  /** Answers the next requests with these statuses (then 200). */
  readonly respondWith: (statuses: ReadonlyArray<number>) => void
  readonly close: () => Promise<void>
}

/** A webhook receiver on loopback that checks every Standard Webhooks signature with `secret`. */
export const startSink = (secret: string): Promise<Sink> =>
  new Promise((resolve) => {
    const received: Array<Received> = []
    const queued: Array<number> = []
    const server: Server = createServer((req, res) => {
      let body = ""
      req.on("data", (c: Buffer) => (body += c.toString()))
      req.on("end", () => {
        const status = queued.shift() ?? 200
        if (status < 300) {
          received.push({
            id: String(req.headers["webhook-id"] ?? ""),
            validSignature: isValid({ headers: req.headers, body, secret, nowSec: Date.now() / 1000 }),
            body: JSON.parse(body) as Received["body"],
            at: Date.now()
          })
        }
        res.statusCode = status
        res.end()
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const a = server.address()
      const port = typeof a === "object" && a !== null ? a.port : 0
      resolve({
        url: `http://127.0.0.1:${port}/hook`,
        received,
        respondWith: (s) => queued.push(...s),
        close: () => new Promise((r) => server.close(() => r()))
      })
    })
  })
