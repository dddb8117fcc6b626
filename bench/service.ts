import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { randomBytes, randomUUID } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Redis } from "ioredis"
import { sleep, until } from "./client.ts"
import { cpuSecondsOf, machineCpuSeconds, root, rssOf } from "./stats.ts"

import { deleteKeysWithPrefix } from "../src/queues/Redis.ts"

export const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379"

export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer()
    s.on("error", reject)
    s.listen(0, "127.0.0.1", () => {
      const a = s.address()
      s.close(() => resolve(typeof a === "object" && a !== null ? a.port : 0))
    })
  })

/** Removes every Redis key under `{prefix}` (the service's queues, windows, quotas). */
export const deletePrefix = (prefix: string) => deleteKeysWithPrefix(REDIS_URL, prefix)

/** The pid of the local Redis server (for its CPU time), if it says. */
export const redisPid = async (): Promise<number | undefined> => {
  const redis = new Redis(REDIS_URL, { lazyConnect: true })
  try {
    await redis.connect()
    const m = /process_id:(\d+)/.exec(await redis.info("server"))
    return m === null ? undefined : Number(m[1])
  } catch {
    return undefined
  } finally {
    redis.disconnect()
  }
}

export interface Service {
  readonly baseUrl: string
  readonly queuePrefix: string
  readonly adminToken: string
  readonly pid: number
  readonly child: ChildProcess
  readonly startupSeconds: number
  /** The last lines the service wrote (warnings, errors), for the report. */
  readonly logTail: () => ReadonlyArray<string>
  readonly stop: () => Promise<number | null>
}

export interface StartOptions {
  /** Entry point relative to the repository; workers/all.ts is what `npm start` runs. */
  readonly entry?: string
  /** Arguments after the entry point (e.g. `--api` for workers/run.ts). */
  readonly args?: ReadonlyArray<string>
  readonly nodeArgs?: ReadonlyArray<string>
  readonly env?: Record<string, string>
  /** Adds an IPC channel (the footprint host answers memory probes over it). */
  readonly ipc?: boolean
}

/**
 * The service as `npm start` runs it, in a child process: a fresh data folder, a free port, an admin
 * token and a queue prefix of its own (so it never sees another run's jobs), on the local Redis.
 * Loopback webhooks are allowed (the alert scenario's sink is on 127.0.0.1).
 */
export const startService = async (options: StartOptions = {}): Promise<Service> => {
  const port = await freePort()
  const dataDir = mkdtempSync(join(tmpdir(), "mplp-bench-svc-"))
  const queuePrefix = `bench-${randomUUID().slice(0, 8)}`
  const adminToken = randomBytes(32).toString("base64url") // 43 characters: start-up refuses fewer than 32
  const env: Record<string, string> = {
    ...Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined)),
    PORT: String(port),
    HOST: "127.0.0.1",
    MPLP_DATA_DIR: dataDir,
    MPLP_ADMIN_TOKEN: adminToken,
    MPLP_QUEUE_PREFIX: queuePrefix,
    MPLP_ALLOW_PRIVATE_WEBHOOKS: "true",
    LOG_LEVEL: "warn",
    LOG_FORMAT: "json",
    ...options.env
  }
  const t0 = performance.now()
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), "--import", "tsx", options.entry ?? "workers/all.ts", ...(options.args ?? [])], {
    cwd: root,
    env,
    stdio: options.ipc === true ? ["ignore", "pipe", "pipe", "ipc"] : ["ignore", "pipe", "pipe"]
  })
  const tail: Array<string> = []
  const keep = (d: Buffer) => {
    for (const line of d.toString().split("\n")) if (line.trim() !== "") tail.push(line.slice(0, 2000))
    if (tail.length > 200) tail.splice(0, tail.length - 200)
  }
  child.stdout?.on("data", keep)
  child.stderr?.on("data", keep)
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  let gone = false
  void exited.then(() => (gone = true))
  const baseUrl = `http://127.0.0.1:${port}`
  const ready = await until(async () => {
    if (gone) throw new Error("exited")
    return (await fetch(`${baseUrl}/readyz`)).status === 200
  }, 120_000, 100)
  const cleanup = async () => {
    await deletePrefix(queuePrefix).catch(() => undefined)
    rmSync(dataDir, { recursive: true, force: true })
  }
  if (!ready || gone) {
    child.kill("SIGKILL")
    await cleanup()
    throw new Error(`the service did not become ready:\n${tail.slice(-30).join("\n")}`)
  }
  const startupSeconds = (performance.now() - t0) / 1000
  const stop = async () => {
    if (!gone) child.kill("SIGTERM")
    const code = await Promise.race([exited, sleep(30_000).then(() => "timeout" as const)])
    if (code === "timeout") {
      child.kill("SIGKILL")
      await exited
    }
    await cleanup()
    return code === "timeout" ? null : code
  }
  return { baseUrl, queuePrefix, adminToken, pid: child.pid ?? 0, child, startupSeconds, logTail: () => [...tail], stop }
}

/**
 * Samples processes' RSS and CPU time while `f` runs: peak RSS, CPU seconds used, and the CPU the rest
 * of the machine used meanwhile (other processes compete for the same cores and skew the figures).
 */
export const observe = async <A>(pids: Record<string, number | undefined>, f: () => Promise<A>) => {
  const first: Record<string, number> = {}
  const last: Record<string, number> = {}
  const peak: Record<string, number> = {}
  const sample = () => {
    for (const [k, pid] of Object.entries(pids)) {
      if (pid === undefined) continue
      const r = rssOf(pid)
      if (r !== undefined) peak[k] = Math.max(peak[k] ?? 0, r)
      const c = cpuSecondsOf(pid)
      if (c !== undefined) {
        if (first[k] === undefined) first[k] = c
        last[k] = c
      }
    }
  }
  const machine0 = machineCpuSeconds()
  sample()
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      await sleep(100)
      sample()
    }
  })()
  const t0 = performance.now()
  try {
    const value = await f()
    sample()
    const seconds = (performance.now() - t0) / 1000
    const machine1 = machineCpuSeconds()
    const cpuSeconds = Object.fromEntries(Object.keys(pids).map((k) => [k, first[k] === undefined ? null : last[k]! - first[k]!]))
    const ours = Object.values(cpuSeconds).reduce<number>((a, b) => a + (b ?? 0), 0)
    const machineBusy = machine0 === undefined || machine1 === undefined ? null : machine1.busy - machine0.busy
    return {
      value, seconds, cpuSeconds, peakRssBytes: peak,
      /** Cores' worth of CPU the machine's other processes used during the run (this bench's excluded). */
      otherCores: machineBusy === null ? null : Math.max(0, machineBusy - ours) / seconds
    }
  } finally {
    sampling = false
    await sampler
  }
}
