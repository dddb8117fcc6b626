import { readdirSync, readFileSync } from "node:fs"
import pg from "pg"
import { sleep } from "./client.ts"

// The CPU a TimescaleDB server (DATABASE_URL) spends on the bench: the service's CPU per span says
// nothing of the database's, and on a 2-core machine both share the cores, so the throughput of two
// kinds of spans follows the sum. Sampled from /proc (Linux, the server on this machine): every
// process of the server's postmaster but the backends and schedulers of its other databases (another
// helper's tests), and every process of a streaming replica on the machine (its WAL replay is paid per
// byte written). A process that starts and ends between two samples (100 ms) is missed.

export interface Proc {
  readonly ppid: number
  readonly cpu: number
  /** Clock ticks after boot. */
  readonly start: number
}

const TICKS = 100

export const readProc = (pid: number): Proc | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    // After the command: state ppid … utime (11) stime (12) … starttime (19).
    return { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / TICKS, start: Number(f[19]) }
  } catch {
    return undefined
  }
}

/**
 * Nanoseconds a process has run on a CPU (/proc/<pid>/schedstat, its first field): /proc/<pid>/stat counts
 * in 10 ms ticks, too coarse for a statement of a few milliseconds. Undefined when unreadable.
 */
export const readCpuNs = (pid: number): number | undefined => {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0])
  } catch {
    return undefined
  }
}

const cmdline = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim()
  } catch {
    return ""
  }
}

const bootTicksNow = (): number => {
  const up = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0])
  return up * TICKS
}

export interface DbServerMeter {
  /** CPU seconds of the server (`primary`) and of replicas on the machine between two CLOCK_MONOTONIC µs instants. */
  readonly between: (startUs: number, endUs: number) => { primary: number; replica: number } | null
  readonly stop: () => Promise<void>
}

/** CPU seconds so far of a server (`primary`) and of its replicas on the machine. */
export type DbServerCpu = () => { primary: number; replica: number }

/** The reader of DATABASE_URL's server: undefined embedded, or when the server is not on this machine. */
export const dbServerCpuOfEnv = (): Promise<DbServerCpu | undefined> => {
  const url = process.env.DATABASE_URL
  return url === undefined || url === "" ? Promise.resolve(undefined) : dbServerCpuReader(url)
}

/**
 * A reader of the server's (and its replicas') CPU seconds so far, from /proc: undefined when the server
 * is not on this machine. Processes that ended since the last read are counted as last seen.
 */
export const dbServerCpuReader = async (url: string): Promise<DbServerCpu | undefined> => {
  const client = new pg.Client({ connectionString: url })
  let postmaster: number
  let ofOtherDb: (cmd: string) => boolean
  try {
    await client.connect()
    const me = (await client.query<{ pid: number; oid: string; db: string }>(
      "SELECT pg_backend_pid() AS pid, (SELECT oid::text FROM pg_database WHERE datname = current_database()) AS oid, current_database() AS db"
    )).rows[0]!
    const dbs = (await client.query<{ datname: string; oid: string }>("SELECT datname, oid::text AS oid FROM pg_database")).rows
    const p = readProc(me.pid)
    if (p === undefined) return undefined
    postmaster = p.ppid
    // A backend names its database ("postgres: user db host(port) …"), an autovacuum worker too (last),
    // a TimescaleDB scheduler its oid.
    const names = new Set(dbs.filter((d) => d.datname !== me.db).map((d) => d.datname))
    const oids = new Set(dbs.filter((d) => d.datname !== me.db).map((d) => d.oid))
    ofOtherDb = (cmd) => {
      const w = cmd.split(" ")
      if (cmd.startsWith("postgres: autovacuum worker ")) return names.has(w[3] ?? "")
      const m = /for database (\d+)/.exec(cmd)
      if (m !== null) return oids.has(m[1]!)
      return w.length >= 4 && names.has(w[2] ?? "") && /\(\d+\)$|^\[local\]$/.test(w[3] ?? "")
    }
  } catch {
    return undefined
  } finally {
    await client.end().catch(() => undefined)
  }
  const replicas = new Set<number>()
  for (const e of readdirSync("/proc")) {
    const pid = Number(e)
    if (!Number.isInteger(pid)) continue
    const c = cmdline(pid)
    if (c.startsWith("postgres: startup recovering") || c.startsWith("postgres: walreceiver")) {
      const p = readProc(pid)
      if (p !== undefined && p.ppid !== postmaster) replicas.add(p.ppid)
    }
  }
  const ignored = new Set<number>()
  // Per pid: the CPU when first seen (0 for a process born after the reader started) and when last seen.
  const seen = new Map<number, { role: "primary" | "replica"; first: number; last: number }>()
  const t0Ticks = bootTicksNow()
  return () => {
    for (const e of readdirSync("/proc")) {
      const pid = Number(e)
      if (!Number.isInteger(pid) || ignored.has(pid)) continue
      const known = seen.get(pid)
      const p = readProc(pid)
      if (p === undefined) continue
      if (known !== undefined) {
        known.last = p.cpu
        continue
      }
      const role = pid === postmaster || p.ppid === postmaster ? "primary" : replicas.has(pid) || replicas.has(p.ppid) ? "replica" : undefined
      if (role === undefined || ofOtherDb(cmdline(pid))) {
        ignored.add(pid)
        continue
      }
      seen.set(pid, { role, first: p.start >= t0Ticks ? 0 : p.cpu, last: p.cpu })
    }
    let primary = 0
    let replica = 0
    for (const s of seen.values()) {
      if (s.role === "primary") primary += s.last - s.first
      else replica += s.last - s.first
    }
    return { primary, replica }
  }
}

/** Starts sampling every 100 ms; undefined when the server is not on this machine (or not Linux). */
export const startDbServerMeter = async (url: string): Promise<DbServerMeter | undefined> => {
  const read = await dbServerCpuReader(url)
  if (read === undefined) return undefined
  const series: Array<{ us: number; primary: number; replica: number }> = []
  const sample = () => series.push({ us: Number(process.hrtime.bigint() / 1000n), ...read() })
  sample()
  let running = true
  const loop = (async () => {
    while (running) {
      await sleep(100)
      sample()
    }
  })()
  /** The sample nearest `us`. */
  const at = (us: number) => series.reduce((best, s) => (Math.abs(s.us - us) < Math.abs(best.us - us) ? s : best), series[0]!)
  return {
    between: (startUs, endUs) => {
      if (series.length < 2) return null
      const a = at(startUs)
      const b = at(endUs)
      return { primary: b.primary - a.primary, replica: b.replica - a.replica }
    },
    stop: async () => {
      running = false
      await loop
    }
  }
}
