import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import { createServer, connect } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { passwordFile } from "../../src/db/wireAuth.ts"
import { eventually } from "./harness.ts"
import type { TestApp } from "./harness.ts"

const root = join(import.meta.dirname, "..", "..")

export interface Proc {
  readonly child: ChildProcess
  readonly out: () => string
  readonly err: () => string
  readonly exited: Promise<number | null>
  /** SIGTERM, and the exit code (null when it had to be killed after `timeoutMs`). */
  readonly stop: (timeoutMs?: number) => Promise<number | null>
}

/** A process of the service, as a deployment runs it: `node --import tsx <entry> <args>`. */
export const startProcess = (entry: string, args: ReadonlyArray<string>, env: Record<string, string>): Proc => {
  const child = spawn(process.execPath, ["--import", "tsx", entry, ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let out = ""
  let err = ""
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()))
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  const stop = async (timeoutMs = 15_000) => {
    if (child.exitCode !== null) return child.exitCode
    child.kill("SIGTERM")
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    const code = await exited
    clearTimeout(timer)
    return code
  }
  return { child, out: () => out, err: () => err, exited, stop }
}

export const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer()
    s.listen(0, "127.0.0.1", () => {
      const a = s.address()
      s.close(() => resolve(typeof a === "object" && a !== null ? a.port : 0))
    })
  })

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const c = connect(port, "127.0.0.1")
    c.on("connect", () => {
      c.destroy()
      resolve(true)
    })
    c.on("error", () => resolve(false))
  })

export interface DbHost {
  readonly proc: Proc
  readonly port: number
  readonly dataDir: string
  /** What every other process needs to use this database. */
  readonly env: Record<string, string>
}

/** The embedded TimescaleDB served to several processes (workers/db.ts). */
export const startDbHost = async (dataDir = mkdtempSync(join(tmpdir(), "mplp-dbhost-")), port?: number): Promise<DbHost> => {
  const p = port ?? (await freePort())
  const proc = startProcess("workers/db.ts", [], { MPLP_DATA_DIR: dataDir, MPLP_EMBEDDED_DB_PORT: String(p), LOG_LEVEL: "warn", LOG_FORMAT: "json" })
  await eventually(async () => ((await accepts(p)) ? true : undefined), 60_000, 200)
  // The server lets in only those who know the password it keeps in its data folder.
  const password = readFileSync(passwordFile(dataDir), "utf8").trim()
  return {
    proc,
    port: p,
    dataDir,
    env: { DATABASE_URL: `postgres://postgres:${password}@127.0.0.1:${p}/postgres`, MPLP_DB_POOL_MAX: "1", MPLP_DB_IDLE_MS: "5" }
  }
}

// What the kill -9 tests (tests/scale/processes.test.ts, tests/cluster/processes.test.ts) share.

/**
 * Quotas and the backlog share far above what these tests send at once (they are about crashes, not
 * limits; with workers killed the tenant's backlog grows until they are back).
 */
export const roomy = { quotas: { requestsPerSecond: 10_000, pointsPerSecond: 10_000_000, bytesPerSecond: 1_000_000_000 }, limits: { maxBacklogPoints: 10_000_000, maxBacklogBytes: 10_000_000_000 } }
export const fastWindows = { windows: { sizeSeconds: 1, allowedLatenessSeconds: 1, idleTimeoutSeconds: 1 }, channels: [], ...roomy }

/** A tenant's stored points: how many and their sum (each point once: nothing lost, nothing doubled). */
export const pointTotals = async (app: TestApp, tenantId: string) =>
  (await app.sql<{ n: number; s: number }>("SELECT count(*)::int AS n, coalesce(sum(value), 0)::float8 AS s FROM metric_points WHERE tenant_id = $1", [tenantId]))[0]

/** The same totals from the tenant's closed windows. */
export const windowTotals = async (app: TestApp, tenantId: string) =>
  (await app.sql<{ n: number; s: number }>("SELECT coalesce(sum(count), 0)::int AS n, coalesce(sum(sum), 0)::float8 AS s FROM metric_windows WHERE tenant_id = $1", [tenantId]))[0]
