import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { connect } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { sleep, until } from "./client.ts"
import { freePort } from "./service.ts"
import { root, rssOf } from "./stats.ts"

/**
 * The embedded TimescaleDB in a process of its own (workers/db.ts, serving the PG wire protocol), so
 * that a service process using it over DATABASE_URL holds only the service's own memory.
 */
export interface DbProcess {
  readonly pid: number
  /** What the service process needs to use this database (as in the README's multi-process setup). */
  readonly env: Record<string, string>
  readonly rss: () => number | undefined
  readonly stop: () => Promise<void>
}

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const c = connect(port, "127.0.0.1")
    c.on("connect", () => {
      c.destroy()
      resolve(true)
    })
    c.on("error", () => resolve(false))
  })

export const startDbProcess = async (): Promise<DbProcess> => {
  const port = await freePort()
  const dataDir = mkdtempSync(join(tmpdir(), "mplp-bench-dbhost-"))
  const child = spawn(process.execPath, ["--import", "tsx", "workers/db.ts"], {
    cwd: root,
    env: { ...process.env, MPLP_DATA_DIR: dataDir, MPLP_EMBEDDED_DB_PORT: String(port), LOG_LEVEL: "warn", LOG_FORMAT: "json" },
    stdio: ["ignore", "ignore", "pipe"]
  })
  let err = ""
  child.stderr?.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-4000)))
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()))
  const stop = async () => {
    if (child.exitCode === null) child.kill("SIGTERM")
    if ((await Promise.race([exited.then(() => "done" as const), sleep(30_000).then(() => "timeout" as const)])) === "timeout") {
      child.kill("SIGKILL")
      await exited
    }
    rmSync(dataDir, { recursive: true, force: true })
  }
  if (!(await until(() => accepts(port), 120_000, 200)) || child.exitCode !== null) {
    await stop()
    throw new Error(`the database process did not start:\n${err}`)
  }
  const pid = child.pid ?? 0
  return {
    pid,
    env: { DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/postgres`, MPLP_DB_POOL_MAX: "1", MPLP_DB_IDLE_MS: "5" },
    rss: () => rssOf(pid),
    stop
  }
}
