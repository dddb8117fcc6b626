import { mkdirSync, readdirSync } from "node:fs"
import { join } from "node:path"
import { openQueues, until } from "./client.ts"
import { isMainThreadProfile, summarizeProfile } from "./profile.ts"
import type { ProfileSummary, Window } from "./profile.ts"
import { REDIS_URL, startService } from "./service.ts"
import type { Service } from "./service.ts"
import { root, summarize } from "./stats.ts"
import type { Summary } from "./stats.ts"

// What every scenario of the runner shares: options, figures, the service they load, and helpers.

export const SCENARIOS = ["baseline", "metrics", "otlp", "genai", "alert-latency", "noisy", "query", "footprint", "actors", "browser", "scale"] as const
/** `all` runs these: `scale` needs DATABASE_URL and several processes, so it is asked for by name. */
export const DEFAULT_SCENARIOS = SCENARIOS.filter((s) => s !== "scale")
export type Scenario = (typeof SCENARIOS)[number]

export interface Options {
  readonly scenarios: ReadonlyArray<Scenario>
  readonly label: string
  readonly duration: number
  readonly runs: number
  readonly window: number
  readonly profile: boolean
  readonly heapSnapshot: boolean
  readonly verbose: boolean
}

export const SPANS_PER_REQUEST = 500
export const POINTS_PER_REQUEST = 1000

export interface Figure {
  readonly scenario: string
  readonly name: string
  readonly unit: string
  readonly summary: Summary
}

export interface ScenarioResult {
  /** genai-off: the genai scenario's twin (its spans with gen_ai.* renamed), a result of its own. */
  readonly scenario: Scenario | "genai-off"
  readonly seconds: number
  readonly figures: ReadonlyArray<Figure>
  readonly measured: string
  readonly details: unknown
}

export interface Goal {
  readonly goal: string
  readonly met: boolean | null
  readonly figures: string
}

export const log = (msg: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`)

export const fig = (scenario: string, name: string, unit: string, xs: ReadonlyArray<number>): Figure => ({ scenario, name, unit, summary: summarize(xs) })

export const medianOf = (figures: ReadonlyArray<Figure>, name: string): number => {
  const f = figures.find((x) => x.name === name)
  if (f === undefined) throw new Error(`no figure named ${name}`)
  return f.summary.median
}

export const fmt = (x: number): string => {
  if (!Number.isFinite(x)) return String(x)
  const a = Math.abs(x)
  if (a >= 1000) return Math.round(x).toLocaleString("en-US")
  if (a >= 100) return x.toFixed(0)
  if (a >= 10) return x.toFixed(1)
  if (a >= 1) return x.toFixed(2)
  return x.toPrecision(2)
}

/** The service shared by the metrics, otlp and alert-latency scenarios (started on first use). */
export class ServiceHolder {
  private service: Service | undefined
  private readonly windows: Array<Window> = []
  readonly profileDir: string | undefined
  constructor(options: Options, stamp: string) {
    this.profileDir = options.profile ? join(root, "bench", "results", "profiles", stamp) : undefined
  }
  async get(): Promise<Service> {
    if (this.service === undefined) {
      if (this.profileDir !== undefined) mkdirSync(this.profileDir, { recursive: true })
      // MPLP_BENCH_NODE_ARGS: node flags for the service alone (a GC setting tried, say), not for the bench or its load generators.
      const extra = (process.env.MPLP_BENCH_NODE_ARGS ?? "").split(/\s+/).filter((a) => a !== "")
      log(`starting the service (workers/all.ts${this.profileDir === undefined ? "" : ", --cpu-prof"}${extra.length === 0 ? "" : `, ${extra.join(" ")}`})`)
      this.service = await startService({
        nodeArgs: [...extra, ...(this.profileDir === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", this.profileDir])]
      })
      log(`service ready in ${this.service.startupSeconds.toFixed(1)} s at ${this.service.baseUrl} (pid ${this.service.pid}, prefix ${this.service.queuePrefix})`)
    }
    return this.service
  }
  /** A load phase to single out in the profile (CLOCK_MONOTONIC µs, as the load generator reports it). */
  mark(window: Window) {
    this.windows.push(window)
  }
  get startupSeconds() {
    return this.service?.startupSeconds
  }
  async stop(): Promise<{ exitCode: number | null; profiles: Array<ProfileSummary>; logTail: ReadonlyArray<string> } | undefined> {
    const s = this.service
    if (s === undefined) return undefined
    this.service = undefined
    const logTail = s.logTail()
    const exitCode = await s.stop()
    const profiles = this.profileDir === undefined
      ? []
      // The main thread (API and stages) and the embedded database's thread; not tsx's loader thread, nearly idle.
      : readdirSync(this.profileDir).filter((f) => f.endsWith(".cpuprofile")).flatMap((f) => {
        const summaries = summarizeProfile(join(this.profileDir!, f), this.windows)
        return isMainThreadProfile(f) || summaries.some((x) => x.busySeconds > 1) ? summaries : []
      })
    return { exitCode, profiles, logTail: logTail.filter((l) => /"level":"(WARN|ERROR|FATAL)"|warn|error/i.test(l)).slice(-20) }
  }
}

/** Waits until every stage's queue is empty, so one scenario's tail does not load the next. */
export const waitIdle = async (s: Service, timeoutSeconds = 90) => {
  const q = openQueues(s.queuePrefix, REDIS_URL)
  try {
    const t0 = performance.now()
    const ok = await until(() => q.idle(), timeoutSeconds * 1000, 200)
    if (!ok) log(`pipeline still busy after ${timeoutSeconds} s; going on`)
    return (performance.now() - t0) / 1000
  } finally {
    await q.close()
  }
}

export const common = (s: Service) => ({ baseUrl: s.baseUrl, adminToken: s.adminToken, queuePrefix: s.queuePrefix, redisUrl: REDIS_URL })

