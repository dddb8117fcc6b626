import { describe, expect, it } from "@effect/vitest"
import { Queue } from "bullmq"
import { Effect } from "effect"
import { Redis } from "ioredis"
import { makeEmbedded } from "../../src/db/embedded.ts"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { deletePrefix, eventually, testEnv } from "../support/harness.ts"
import { freePort, startProcess } from "../support/processes.ts"
import { openIngest } from "../api/queue.ts"

describe("SIGTERM drain of `npm start`", () => {
  it("answers 503 + Retry-After while draining, exits within 10 s, and loses nothing it acknowledged", async () => {
    const port = await freePort()
    const env = testEnv({ PORT: String(port), MPLP_DATA_DIR: mkdtempSync(join(tmpdir(), "mplp-drain-")), MPLP_SHUTDOWN_GRACE_MS: "1500" })
    const url = `http://127.0.0.1:${port}`
    const first = startProcess("workers/all.ts", [], env)
    try {
      await eventually(async () => ((await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined), 60_000, 250)
      // The demo tenant is created once the API listens (its banner names the bound port): the key may follow /readyz.
      const key = await eventually(async () => /mplp_[0-9a-f]{12}_[A-Za-z0-9_-]{43}/.exec(first.out())?.[0], 15_000, 100)
      const post = (i: number) =>
        fetch(`${url}/api/metrics`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify({ points: Array.from({ length: 50 }, (_, j) => ({ name: "drain", value: 1, time: Date.now() - 60_000 + i * 100 + j })) }),
          signal: AbortSignal.timeout(5_000)
        }).then((r) => ({ status: r.status, retryAfter: r.headers.get("retry-after") }), () => ({ status: 0, retryAfter: null }))
      const results: Array<{ status: number; retryAfter: string | null }> = []
      for (let i = 0; i < 20; i++) results.push(await post(i))
      first.child.kill("SIGTERM")
      const t0 = Date.now()
      let i = 20
      let exited = false
      void first.exited.then(() => (exited = true))
      while (!exited && i < 400) {
        results.push(await post(i++))
        await new Promise((r) => setTimeout(r, 20))
      }
      const code = await Promise.race([first.exited, new Promise<string>((r) => setTimeout(() => r("still running"), 20_000))])
      if (code !== 0) console.log(first.out().split("\n").slice(-15).map((l) => l.slice(0, 400)).join("\n"), first.err().slice(-2000))
      expect(code).toBe(0)
      expect(Date.now() - t0).toBeLessThan(10_000)
      const statuses = new Set(results.map((r) => r.status))
      expect([...statuses].every((s) => s === 202 || s === 503 || s === 0)).toBe(true)
      expect(statuses.has(503)).toBe(true)
      expect(results.filter((r) => r.status === 503).every((r) => r.retryAfter !== null)).toBe(true)
      const accepted = results.filter((r) => r.status === 202).length
      expect(accepted).toBeGreaterThanOrEqual(20)
      // Restart on the same data: the acknowledged batches still queued are processed now.
      // On a port of its own: the first one's, free since it exited, may meanwhile be another test's.
      const url2 = `http://127.0.0.1:${await freePort()}`
      const second = startProcess("workers/all.ts", [], { ...env, PORT: url2.split(":")[2]! })
      const connection = new Redis("redis://127.0.0.1:6379", { maxRetriesPerRequest: null })
      const ingest = openIngest(connection, env)
      try {
        await eventually(async () => ((await fetch(`${url2}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined), 60_000, 250)
        await eventually(async () => {
          const c = await ingest.getJobCounts("wait", "active", "delayed", "prioritized")
          return Object.values(c).every((n) => n === 0) ? true : undefined
        }, 60_000, 250)
      } finally {
        const secondCode = await second.stop()
        if (secondCode !== 0) console.log(second.out().split("\n").slice(-15).map((l) => l.slice(0, 400)).join("\n"), second.err().slice(-2000))
        expect(secondCode).toBe(0)
        await ingest.close()
        await connection.quit()
      }
      const stored = await Effect.runPromise(
        Effect.scoped(
          Effect.flatMap(makeEmbedded(env.MPLP_DATA_DIR), (db) =>
            db.query<{ n: number }>("SELECT count(*)::int AS n FROM metric_points WHERE name = 'drain'")
          )
        )
      )
      expect(stored[0]?.n).toBe(accepted * 50)
    } finally {
      await first.stop()
      await deletePrefix(env.MPLP_QUEUE_PREFIX)
    }
  }, 180_000)
})

