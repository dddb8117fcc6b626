import { describe, expect, it } from "@effect/vitest"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { deletePrefix, eventually, testEnv } from "../support/harness.ts"
import { startProcess } from "../support/processes.ts"

const start = (env: Record<string, string>) => startProcess("workers/all.ts", [], env)

describe("start-up", () => {
  it("a bad setting stops start-up with one line naming the variable", async () => {
    const p = start(testEnv({ PORT: "eighty" }))
    expect(await p.exited).toBe(1)
    const lines = p.err().trim().split("\n")
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^mplp-trace: invalid configuration: PORT: .*integer/)
  })

  it("refuses an admin token under 32 characters and a secret key that is not 32 bytes, one line each", async () => {
    const [token, key] = await Promise.all(
      [{ MPLP_ADMIN_TOKEN: "change-me" }, { MPLP_SECRET_KEY: "not-32-bytes" }].map(async (env: Readonly<Record<string, string | undefined>>) => {
        const p = start({ ...testEnv(), ...Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined)) })
        expect(await p.exited).toBe(1)
        return p.err().trim().split("\n")
      })
    )
    expect(token).toEqual([expect.stringMatching(/^mplp-trace: invalid configuration: MPLP_ADMIN_TOKEN: must be at least 32 characters/)])
    expect(key).toEqual([expect.stringMatching(/^mplp-trace: invalid configuration: MPLP_SECRET_KEY: must be 32 bytes/)])
  })

  it("an unreachable Redis is one line with the URL and how to get one", async () => {
    const p = start(testEnv({ REDIS_URL: "redis://127.0.0.1:1" }))
    expect(await p.exited).toBe(1)
    const lines = p.err().trim().split("\n")
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain("redis://127.0.0.1:1")
    expect(lines[0]).toContain("docker compose up -d redis")
    expect(lines[0]).not.toMatch(/\bat .*\.ts:\d+/) // no stack trace
  })

  it("an unreachable Redis Cluster is one line naming its seed nodes; a malformed cluster URL names REDIS_URL", async () => {
    const [down, bad] = [start(testEnv({ REDIS_URL: "redis+cluster://127.0.0.1:1,127.0.0.1:2" })), start(testEnv({ REDIS_URL: "redis+cluster://127.0.0.1:1,:x" }))]
    expect(await down.exited).toBe(1)
    const lines = down.err().trim().split("\n")
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain("cannot reach the Redis Cluster at 127.0.0.1:1,127.0.0.1:2")
    expect(lines[0]).not.toMatch(/\bat .*\.ts:\d+/)
    expect(await bad.exited).toBe(1)
    expect(bad.err().trim()).toMatch(/^mplp-trace: invalid configuration: REDIS_URL: must be redis:\/\/host:port/)
  })

  it("npm start: migrates, prints a demo key and the console link once, serves /readyz, and stops cleanly on SIGTERM", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "mplp-start-"))
    // PORT=0: the banner must name the port the service is bound to, not the one asked for.
    const env = testEnv({ PORT: "0", MPLP_DATA_DIR: dataDir, LOG_LEVEL: "info" })
    const first = start(env)
    try {
      const link = await eventually(async () => /Console: http:\/\/localhost:(\d+)\/#key=(mplp_[0-9a-f]{12}_[A-Za-z0-9_-]{43})\n/.exec(first.out()) ?? undefined, 60_000, 250)
      const port = Number(link[1])
      const key = link[2]
      expect(port).toBeGreaterThan(0)
      const ready = await eventually(async () => {
        const r = await fetch(`http://127.0.0.1:${port}/readyz`)
        return r.status === 200 ? ((await r.json()) as { status: string; database: string; redis: string }) : undefined
      }, 15_000, 250)
      expect(ready).toEqual({ status: "ready", database: "up", redis: "up" })
      expect(first.out()).toContain(`http://localhost:${port}/api/metrics`)
      expect(first.out()).not.toMatch(/localhost:(?!\d)|localhost:8080/)
      const res = await fetch(`http://127.0.0.1:${port}/api/metrics`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ points: [{ name: "cpuUsagePercent", value: 12 }] })
      })
      expect(res.status).toBe(202)
      // The demo key has every scope: acknowledging (the alerts scope) gets as far as "no such alert".
      const ack = await fetch(`http://127.0.0.1:${port}/api/alerts/al_none/ack`, { method: "POST", headers: { authorization: `Bearer ${key}` } })
      expect(ack.status).toBe(404)
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
      expect(metrics).toMatch(/mplp_points_accepted(_total)?\{[^}]*\} 1/)
      expect(metrics).toMatch(/mplp_queue_depth\{[^}]*queue="ingest"[^}]*\} \d+/)
      expect(metrics).toMatch(/mplp_http_request_duration_ms_count\{[^}]*\} \d+/)
      first.child.kill("SIGTERM")
      const t0 = Date.now()
      expect(await first.exited).toBe(0)
      expect(Date.now() - t0).toBeLessThan(10_000)
      // second start on the same data: no new demo tenant, the old key still works
      const second = start(env)
      try {
        const port2 = Number(await eventually(async () => /Listening on http:\/\/[^:\s"]+:(\d+)/.exec(second.out())?.[1], 60_000, 250))
        await eventually(async () => ((await fetch(`http://127.0.0.1:${port2}/readyz`)).status === 200 ? true : undefined), 15_000, 250)
        expect(second.out()).not.toMatch(/Demo tenant created/)
        const again = await fetch(`http://127.0.0.1:${port2}/api/metrics`, {
          method: "POST",
          headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
          body: JSON.stringify({ points: [{ name: "cpuUsagePercent", value: 13 }] })
        })
        expect(again.status).toBe(202)
      } finally {
        second.child.kill("SIGTERM")
        await second.exited
      }
    } finally {
      first.child.kill("SIGKILL")
      await deletePrefix(env.MPLP_QUEUE_PREFIX)
    }
  }, 120_000)
})
