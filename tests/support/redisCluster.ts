import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import { eventually } from "./harness.ts"

const run = promisify(execFile)

/** A real Redis Cluster on loopback: redis-server processes of this test file only, in a temporary folder. */
export interface RedisClusterHandle {
  readonly ports: ReadonlyArray<number>
  /** REDIS_URL of the cluster (every node a seed). */
  readonly url: string
  /** One redis-cli command against one node; its output. */
  readonly cli: (port: number, ...args: ReadonlyArray<string>) => Promise<string>
  /** The ports of the nodes that are masters now. */
  readonly masters: () => Promise<ReadonlyArray<number>>
  /** kill -9 of one node. */
  readonly kill: (port: number) => void
  /** Starts a killed node again (empty: no persistence); its nodes.conf makes it rejoin, as a replica of its shard's master. */
  readonly restart: (port: number) => Promise<void>
  /** Waits until every live node says cluster_state:ok and every master has an online replica (unless `replicas` is false). */
  readonly ready: (replicas?: boolean) => Promise<void>
  readonly stop: () => Promise<void>
}

const listens = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = createServer()
    s.once("error", () => resolve(false))
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)))
  })

/** Free ports P whose cluster bus port P + 10000 is free too. */
const freePorts = async (n: number): Promise<Array<number>> => {
  const out: Array<number> = []
  while (out.length < n) {
    const p = 20_000 + Math.floor(Math.random() * 25_000)
    if (!out.includes(p) && !out.includes(p + 10_000) && !out.includes(p - 10_000) && (await listens(p)) && (await listens(p + 10_000))) out.push(p)
  }
  return out
}

/**
 * Starts `masters` masters with `replicasPerMaster` replicas each (redis-server --cluster-enabled,
 * node timeout 1.5 s, no persistence), creates the cluster with redis-cli and waits until it is whole.
 */
export const startRedisCluster = async (masterCount = 3, replicasPerMaster = 1): Promise<RedisClusterHandle> => {
  const dir = mkdtempSync(join(tmpdir(), "mplp-redis-cluster-"))
  const ports = await freePorts(masterCount * (1 + replicasPerMaster))
  const cli = async (port: number, ...args: ReadonlyArray<string>) =>
    (await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), ...args], { timeout: 10_000 })).stdout
  const dead = new Set<number>()
  const pidOf = (port: number) => Number(readFileSync(join(dir, `redis-${port}.pid`), "utf8").trim())
  const kill = (port: number) => {
    try {
      process.kill(pidOf(port), "SIGKILL")
    } catch {
      // already gone
    }
    dead.add(port)
  }
  const killAll = () => {
    for (const p of ports) kill(p)
    rmSync(dir, { recursive: true, force: true })
  }
  // A test process that dies before its afterAll (a crash, a killed run) leaves no daemonized node behind.
  process.once("exit", killAll)
  const stop = async () => {
    process.removeListener("exit", killAll)
    killAll()
  }
  const ready = async (replicas = true) => {
    const live = ports.filter((p) => !dead.has(p))
    await eventually(async () => {
      for (const p of live) if (!/cluster_state:ok/.test(await cli(p, "CLUSTER", "INFO"))) return undefined
      if (replicas) {
        for (const p of await masters()) if (!/slave0:.*state=online/.test(await cli(p, "INFO", "replication"))) return undefined
      }
      return true
    }, 30_000, 100)
  }
  const mastersSeenBy = async (port: number) =>
    (await cli(port, "CLUSTER", "NODES")).split("\n").flatMap((line) => {
      const fields = line.trim().split(" ")
      const flags = (fields[2] ?? "").split(",")
      const isMaster = flags.includes("master") && !flags.includes("fail") && !flags.includes("fail?") && fields.length > 8
      return isMaster ? [Number(/:(\d+)@/.exec(fields[1] ?? "")?.[1] ?? 0)] : []
    }).sort((a, b) => a - b)
  // The masters every live node agrees on (a node just restarted believes its old role for a moment).
  const masters = async () => {
    const views = await Promise.all(ports.filter((p) => !dead.has(p)).map(mastersSeenBy))
    const first = JSON.stringify(views[0] ?? [])
    if (views.some((v) => JSON.stringify(v) !== first)) throw new Error(`the nodes do not agree on the masters yet: ${JSON.stringify(views)}`)
    return views[0] ?? []
  }
  const start = async (p: number) => {
    await run("redis-server", [
      "--port", String(p), "--bind", "127.0.0.1", "--cluster-enabled", "yes", "--cluster-config-file", `nodes-${p}.conf`,
      "--cluster-node-timeout", "1500", "--save", "", "--appendonly", "no", "--daemonize", "yes",
      "--pidfile", join(dir, `redis-${p}.pid`), "--logfile", join(dir, `redis-${p}.log`), "--dir", dir
    ])
    await eventually(async () => ((await cli(p, "PING")).trim() === "PONG" ? true : undefined), 10_000, 50)
    dead.delete(p)
  }
  try {
    for (const p of ports) await start(p)
    await run("redis-cli", ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", String(replicasPerMaster), "--cluster-yes"], { timeout: 30_000 })
    await ready(replicasPerMaster > 0)
  } catch (e) {
    await stop()
    throw e
  }
  return { ports, url: `redis+cluster://${ports.map((p) => `127.0.0.1:${p}`).join(",")}`, cli, masters, kill, restart: start, ready, stop }
}

/** Keys of `prefix` on each master (SCAN per node), to see that they spread. */
export const keysPerMaster = async (c: RedisClusterHandle, prefix: string): Promise<Map<number, number>> => {
  const out = new Map<number, number>()
  for (const p of await c.masters()) {
    let n = 0
    let cursor = "0"
    do {
      const [next, ...keys] = (await c.cli(p, "SCAN", cursor, "MATCH", `{${prefix}*`, "COUNT", "1000")).trim().split("\n")
      cursor = next ?? "0"
      n += keys.filter((k) => k !== "").length
    } while (cursor !== "0")
    out.set(p, n)
  }
  return out
}
