import { Queue } from "bullmq"
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import { readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import pg from "pg"
import { bullPrefix } from "../src/queues/Queues.ts"
import type { BaselineFigures } from "./baseline.ts"
import { sleep, until } from "./client.ts"
import { fig, fmt, log, POINTS_PER_REQUEST, SPANS_PER_REQUEST, waitIdle } from "./harness.ts"
import type { Figure, Options, ScenarioResult } from "./harness.ts"
import type { ThroughputConfig } from "./loadThroughput.ts"
import { spawnLoadgen } from "./loadgenProcess.ts"
import { REDIS_URL, redisPid, startService } from "./service.ts"
import type { Service } from "./service.ts"
import { root } from "./stats.ts"

// The `scale` scenario: the API and the stages as separate processes (workers/run.ts), with 1 and then 2
// ingest processes, on a DATABASE_URL server. Per configuration: throughput end to end and the CPU of
// each process and of the database server, to say where the curve stops.

export const INGEST_PROCESSES = [1, 2] as const

/**
 * Pool sessions stay open between runs (the load generator builds its OTLP bodies for ~10 s, past the
 * default 10 s idle timeout): the database's processes listed at a run's start are the ones that serve it.
 */
const KEEP_SESSIONS = { MPLP_DB_IDLE_MS: "300000" }

interface StageProcess {
  readonly name: string
  readonly child: ChildProcess
  readonly stop: () => Promise<void>
}

/** `workers/run.ts <args>` sharing the API's queue prefix (and so its queues), its output kept for errors. */
const startStages = (name: string, args: ReadonlyArray<string>, api: Service): StageProcess => {
  const env: Record<string, string> = {
    ...Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined)),
    MPLP_QUEUE_PREFIX: api.queuePrefix, MPLP_ADMIN_TOKEN: api.adminToken, MPLP_ALLOW_PRIVATE_WEBHOOKS: "true", LOG_LEVEL: "warn", LOG_FORMAT: "json",
    ...KEEP_SESSIONS
  }
  const child = spawn(process.execPath, ["--import", "tsx", "workers/run.ts", ...args], { cwd: root, env, stdio: ["ignore", "ignore", "pipe"] })
  let err = ""
  child.stderr?.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-4000)))
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()))
  child.on("exit", (code) => {
    if (code !== 0 && code !== null) log(`${name} exited ${code}: ${err.slice(-1000)}`)
  })
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
    await Promise.race([exited, sleep(20_000).then(() => child.kill("SIGKILL"))])
  }
  return { name, child, stop }
}

/** Waits until `n` BullMQ workers listen on `stage`'s queue. */
const workersReady = async (prefix: string, stage: string, n: number) => {
  const u = new URL(REDIS_URL)
  const q = new Queue(stage, { connection: { host: u.hostname, port: Number(u.port || 6379) }, prefix: bullPrefix(prefix) })
  try {
    return await until(async () => (await q.getWorkersCount()) >= n, 120_000, 200)
  } finally {
    await q.close()
  }
}

/** The PostgreSQL server's processes (postmaster and its children), when it runs on this machine and says where its data is. */
const serverPids = async (url: string): Promise<() => ReadonlyArray<number>> => {
  const c = new pg.Client({ connectionString: url })
  try {
    await c.connect()
    const dir = (await c.query<{ data_directory: string }>("SHOW data_directory")).rows[0]?.data_directory ?? ""
    const postmaster = Number(readFileSync(join(dir, "postmaster.pid"), "utf8").split("\n")[0])
    return () => [postmaster, ...readdirSync("/proc").filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === postmaster
      } catch {
        return false
      }
    })]
  } catch {
    return () => []
  } finally {
    await c.end().catch(() => undefined)
  }
}

type LoadResult = {
  items: number; windowedPerSecond: number; windowSeconds: number; cpuPercent: Record<string, number | null>; otherCores: number | null; persisted: boolean; windowed: boolean
}

const DB = "db:"

export const runScale = async (o: Options, base: BaselineFigures | undefined): Promise<ScenarioResult> => {
  const url = process.env.DATABASE_URL
  if (url === undefined || url === "") throw new Error("the scale scenario needs DATABASE_URL (a TimescaleDB server): the embedded database lives inside one process")
  const t0 = performance.now()
  const figures: Array<Figure> = []
  const details: Array<Record<string, unknown>> = []
  const rpid = await redisPid()
  const dbPids = await serverPids(url)
  for (const mode of ["metrics", "otlp"] as const) {
    const what = mode === "metrics" ? "points" : "spans"
    const baseRate = base === undefined ? undefined : mode === "metrics" ? base.metricRowsPerSecond.median : base.spanRowsPerSecond.median
    const rates = new Map<number, Array<number>>()
    for (const n of INGEST_PROCESSES) {
      log(`scale ${mode}: API process + ${n} ingest process${n > 1 ? "es" : ""} + one process for aggregate, detect, alert`)
      const api = await startService({ entry: "workers/run.ts", args: ["--api"], env: KEEP_SESSIONS })
      const stages = [
        ...Array.from({ length: n }, (_, i) => startStages(`ingest-${i + 1}`, ["--stage", "ingest"], api)),
        startStages("aggregate+detect+alert", ["--stage", "aggregate", "--stage", "detect", "--stage", "alert"], api)
      ]
      try {
        if (!(await workersReady(api.queuePrefix, "ingest", n)) || !(await workersReady(api.queuePrefix, "aggregate", 1))) throw new Error("the stage processes did not start")
        const pids: Record<string, number | undefined> = { api: api.pid, redis: rpid, ...Object.fromEntries(stages.map((s) => [s.name, s.child.pid])) }
        const runs: Array<number> = []
        // Run 0 warms up (not counted): every process connects its pool, so the database's sessions exist when the next run lists them.
        for (let r = -1; r < o.runs; r++) {
          await waitIdle(api)
          const config: ThroughputConfig = {
            baseUrl: api.baseUrl, adminToken: api.adminToken, queuePrefix: api.queuePrefix, redisUrl: REDIS_URL,
            mode, durationSeconds: r < 0 ? 1 : o.duration, maxRequests: Math.ceil(o.duration * (mode === "metrics" ? 80 : 50)),
            batchSize: mode === "metrics" ? POINTS_PER_REQUEST : SPANS_PER_REQUEST, concurrency: 4 * n, maxQueued: 32 * n, seed: r + 2,
            drainTimeoutSeconds: 180, persistedBy: "queue",
            // The database server's processes as they are now (the pools' sessions persist under load), measured over the same window.
            pids: { ...pids, ...Object.fromEntries(dbPids().map((p) => [`${DB}${p}`, p])) }
          }
          const v = await spawnLoadgen<LoadResult>(config, o.verbose).done
          if (r < 0) continue
          const entries = Object.entries(v.cpuPercent)
          const dbPercent = entries.filter(([k]) => k.startsWith(DB)).reduce((a, [, x]) => a + (x ?? 0), 0)
          v.cpuPercent = Object.fromEntries(entries.filter(([k]) => !k.startsWith(DB)))
          const ours = entries.reduce((a, [, x]) => a + (x ?? 0), 0) / 100
          const machineCores = v.otherCores === null ? null : v.otherCores + ours
          log(`  ${v.items} ${what}: windowed ${fmt(v.windowedPerSecond)}/s; CPU % of a core: ${Object.entries(v.cpuPercent).map(([k, x]) => `${k} ${x === null ? "?" : x.toFixed(0)}`).join(", ")}, database ${dbPercent.toFixed(0)}; machine busy ${machineCores?.toFixed(2) ?? "?"} of 2 cores (other processes ${v.otherCores?.toFixed(2) ?? "?"})`)
          runs.push(v.windowedPerSecond)
          details.push({ mode, ingestProcesses: n, run: r + 1, ...v, databaseCpuPercent: dbPercent, machineBusyCores: machineCores })
        }
        rates.set(n, runs)
        figures.push(fig("scale", `${mode}: ${n} ingest process${n > 1 ? "es" : ""}, end to end`, `${what}/s`, runs))
        if (baseRate !== undefined) figures.push(fig("scale", `${mode}: ${n} ingest, ÷ raw baseline`, "ratio", runs.map((x) => x / baseRate)))
        const ofRuns = (f: (d: Record<string, unknown>) => number) => details.filter((d) => d.mode === mode && d.ingestProcesses === n).map(f)
        for (const k of Object.keys(pids)) figures.push(fig("scale", `${mode}: ${n} ingest, CPU of ${k}`, "% of 1 core", ofRuns((d) => ((d.cpuPercent as Record<string, number | null>)[k] ?? Number.NaN))))
        figures.push(fig("scale", `${mode}: ${n} ingest, CPU of the database server`, "% of 1 core", ofRuns((d) => d.databaseCpuPercent as number)))
        figures.push(fig("scale", `${mode}: ${n} ingest, machine busy`, "cores", ofRuns((d) => (d.machineBusyCores as number | null) ?? Number.NaN)))
        figures.push(fig("scale", `${mode}: ${n} ingest, other processes on the machine`, "cores", ofRuns((d) => (d.otherCores as number | null) ?? Number.NaN)))
      } finally {
        await Promise.all(stages.map((s) => s.stop()))
        await api.stop()
      }
    }
    const one = rates.get(1) ?? []
    const two = rates.get(2) ?? []
    if (one.length > 0 && two.length > 0) figures.push(fig("scale", `${mode}: 2 ingest ÷ 1 ingest (run by run)`, "ratio", two.map((x, i) => x / (one[i] ?? Number.NaN))))
  }
  return {
    scenario: "scale",
    seconds: (performance.now() - t0) / 1000,
    measured: "workers/run.ts --api, N × --stage ingest, one --stage aggregate --stage detect --stage alert, on DATABASE_URL; the load generator " +
      "at 4 × N requests in flight; persisted = the ingest queue empty, windowed = the aggregate queue empty; CPU from /proc (database: its postmaster and children)",
    figures,
    details: { runs: details }
  }
}
