import { spawn } from "node:child_process"
import type { BaselineFigures } from "./baseline.ts"
import type { DecodeCost } from "./decodeCost.ts"
import { common, fig, fmt, log, POINTS_PER_REQUEST, SPANS_PER_REQUEST, waitIdle } from "./harness.ts"
import type { Figure, Options, ScenarioResult, ServiceHolder } from "./harness.ts"
import type { ThroughputConfig } from "./loadThroughput.ts"
import { spawnLoadgen } from "./loadgenProcess.ts"
import { startDbServerMeter } from "./dbServerMeter.ts"
import { observe, redisPid } from "./service.ts"
import { MB, root, round } from "./stats.ts"

// The metrics and otlp scenarios: sustained load from the load generator until persisted and windowed.

type ThroughputResult = {
  requests: number; items: number; retries: number; errors: number; heldBackSeconds: number; persisted: boolean; windowed: boolean
  sendSeconds: number; persistSeconds: number; windowSeconds: number
  acceptedPerSecond: number; persistedPerSecond: number; windowedPerSecond: number
  requestMs: { p50: number; p90: number; p99: number; max: number }
  failedJobs: { ingest: number; aggregate: number }
  cpuPercent: Record<string, number | null>
  otherCores: number | null
  payload: { httpBodyBytesPerItem: number; ingestJobBytesPerItem: number | null; aggregateJobBytes: number | null; aggregateJobPartials: number | null }
  monoStartUs: number
  monoEndUs: number
}

type Run = ThroughputResult & {
  cpuSeconds: Record<string, number | null>; peakRssMB: Record<string, number>; idleWaitSeconds: number; observedSeconds: number
  /** A TimescaleDB server's CPU seconds (DATABASE_URL), from the first request until the last batch was windowed. */
  dbServerCpuSeconds: { primary: number; replica: number } | null
}
type Mode = "metrics" | "otlp" | "genai" | "genai-off"

export const runThroughput = async (o: Options, holder: ServiceHolder, mode: Mode, base: BaselineFigures) =>
  (await runThroughputModes(o, holder, [mode], base))[0]!

/**
 * Runs of several modes on one service, interleaved so that what drifts over a set (the tables' growth,
 * a database server's once-a-minute policy refresh, the machine) falls on each alike: with two modes
 * A, B the order is A B B A A B … (each pair's order reversed from the last), with one mode its runs.
 */
export const runThroughputModes = async (o: Options, holder: ServiceHolder, modes: ReadonlyArray<Mode>, base: BaselineFigures) => {
  const t0 = performance.now()
  const s = await holder.get()
  const rpid = await redisPid()
  const runs = new Map<Mode, Array<Run>>(modes.map((m) => [m, []]))
  const url = process.env.DATABASE_URL
  const dbMeter = url === undefined || url === "" ? undefined : await startDbServerMeter(url)
  // One short run of each mode first, not counted: the JIT's paths for that kind of request, and the
  // first batches' one-time work (a new series' rows and detector state, a new chunk) fall there rather
  // than on whichever mode's first measured run came first.
  for (const mode of modes) {
    const batchSize = mode === "metrics" ? POINTS_PER_REQUEST : SPANS_PER_REQUEST
    const seconds = Math.min(3, o.duration)
    await waitIdle(s)
    log(`${mode} warm-up: ${seconds} s, not counted`)
    const lg = spawnLoadgen<ThroughputResult>({
      ...common(s), mode, durationSeconds: seconds, maxRequests: Math.ceil(seconds * (mode === "metrics" ? 80 : 50)), batchSize, concurrency: 4, maxQueued: 32,
      seed: 1000, drainTimeoutSeconds: 180, pids: { service: s.pid, redis: rpid }
    }, o.verbose)
    await lg.done
  }
  for (let r = 0; r < o.runs; r++) {
    for (const mode of r % 2 === 0 ? modes : [...modes].reverse()) {
      const batchSize = mode === "metrics" ? POINTS_PER_REQUEST : SPANS_PER_REQUEST
      const maxRequests = Math.ceil(o.duration * (mode === "metrics" ? 80 : 50))
      const idleWaitSeconds = await waitIdle(s)
      const config: ThroughputConfig = {
        ...common(s), mode, durationSeconds: o.duration, maxRequests, batchSize, concurrency: 4, maxQueued: 32, seed: r + 1, drainTimeoutSeconds: 180,
        pids: { service: s.pid, redis: rpid }
      }
      log(`${mode} run ${r + 1}/${o.runs}: up to ${maxRequests} requests of ${batchSize} for up to ${o.duration} s`)
      const lg = spawnLoadgen<ThroughputResult>(config, o.verbose)
      const obs = await observe({ service: s.pid, loadgen: lg.pid, redis: rpid }, () => lg.done)
      const v = obs.value
      holder.mark({
        label: `${mode} load (${o.runs} runs, from the first request until the last batch was windowed)`, startUs: v.monoStartUs, endUs: v.monoEndUs,
        items: v.items, cpuSeconds: ((v.cpuPercent.service ?? Number.NaN) / 100) * v.windowSeconds
      })
      log(`  ${v.items} ${mode === "metrics" ? "points" : "spans"}: accepted ${fmt(v.acceptedPerSecond)}/s, persisted ${fmt(v.persistedPerSecond)}/s, windowed ${fmt(v.windowedPerSecond)}/s`)
      runs.get(mode)!.push({
        ...v,
        idleWaitSeconds,
        observedSeconds: obs.seconds,
        cpuSeconds: obs.cpuSeconds,
        dbServerCpuSeconds: dbMeter?.between(v.monoStartUs, v.monoEndUs) ?? null,
        peakRssMB: Object.fromEntries(Object.entries(obs.peakRssBytes).map(([k, b]) => [k, round(b / MB)]))
      })
    }
  }
  await dbMeter?.stop()
  const summarize = async (mode: Mode, runs: ReadonlyArray<Run>, seconds: number) => {
    const batchSize = mode === "metrics" ? POINTS_PER_REQUEST : SPANS_PER_REQUEST
    const maxRequests = Math.ceil(o.duration * (mode === "metrics" ? 80 : 50))
    const what = mode === "metrics" ? "points" : "spans"
    const baseRate = mode === "metrics" ? base.metricRowsPerSecond.median : base.spanRowsPerSecond.median
    const scenario = mode
    const figures: Array<Figure> = [
      fig(scenario, `accepted (HTTP ${mode === "metrics" ? 202 : 200})`, `${what}/s`, runs.map((x) => x.acceptedPerSecond)),
      fig(scenario, "persisted", `${what}/s`, runs.map((x) => x.persistedPerSecond)),
      fig(scenario, "persisted + windowed (end to end)", `${what}/s`, runs.map((x) => x.windowedPerSecond)),
      fig(scenario, `end to end / baseline (${mode === "metrics" ? `metric_points ${base.metricPath}` : `spans ${base.spanPath}`})`, "ratio", runs.map((x) => x.windowedPerSecond / baseRate)),
      fig(scenario, "persisted / baseline", "ratio", runs.map((x) => x.persistedPerSecond / baseRate)),
      fig(scenario, "request latency p50", "ms", runs.map((x) => x.requestMs.p50)),
      fig(scenario, "request latency p99", "ms", runs.map((x) => x.requestMs.p99)),
      fig(scenario, "service CPU while loaded", "% of 1 core", runs.map((x) => x.cpuPercent.service ?? Number.NaN)),
      fig(scenario, `service CPU per ${what === "points" ? "point" : "span"} (end to end)`, "µs", runs.map((x) => ((x.cpuPercent.service ?? Number.NaN) / 100) * x.windowSeconds * 1e6 / x.items)),
      ...(dbMeter === undefined ? [] : [
        fig(scenario, `database server CPU per ${what === "points" ? "point" : "span"} (end to end)`, "µs", runs.map((x) => (x.dbServerCpuSeconds?.primary ?? Number.NaN) * 1e6 / x.items)),
        fig(scenario, `its replica's CPU per ${what === "points" ? "point" : "span"}`, "µs", runs.map((x) => (x.dbServerCpuSeconds?.replica ?? Number.NaN) * 1e6 / x.items)),
        fig(scenario, `service + Redis + database server + replica CPU per ${what === "points" ? "point" : "span"}`, "µs", runs.map((x) =>
          (((x.cpuPercent.service ?? Number.NaN) + (x.cpuPercent.redis ?? 0)) / 100 * x.windowSeconds + (x.dbServerCpuSeconds?.primary ?? Number.NaN) + (x.dbServerCpuSeconds?.replica ?? 0)) * 1e6 / x.items))
      ]),
      fig(scenario, "load generator CPU", "% of 1 core", runs.map((x) => x.cpuPercent.loadgen ?? Number.NaN)),
      fig(scenario, `HTTP body per ${what === "points" ? "point" : "span"}`, "bytes", runs.map((x) => x.payload.httpBodyBytesPerItem)),
      fig(scenario, `ingest job (JSON in Redis) per ${what === "points" ? "point" : "span"}`, "bytes", runs.map((x) => x.payload.ingestJobBytesPerItem ?? Number.NaN)),
      fig(scenario, "Redis RSS, peak during the run (completed jobs are kept)", "MB", runs.map((x) => x.peakRssMB.redis ?? Number.NaN)),
      fig(scenario, "other processes on the machine", "cores", runs.map((x) => x.otherCores ?? Number.NaN))
    ]
    let decode: DecodeCost | undefined
    if (mode === "otlp") {
      decode = await decodeCost()
      const med = (label: string) => decode!.cases.find((c) => c.label.trim().startsWith(label))!.samples
      const pb = med("protobuf: decode + normalise")
      const js = med("json: utf8 + JSON.parse + decode + normalise")
      const parse = med("json: utf8 + JSON.parse only")
      figures.push(
        fig(scenario, "decode: protobuf wire decode + normalise", "ns/span", pb),
        fig(scenario, "decode: utf8 + JSON.parse only (same spans as OTLP/JSON)", "ns/span", parse),
        fig(scenario, "decode: OTLP/JSON full path (parse + decode + normalise)", "ns/span", js),
        fig(scenario, "decode: JSON.parse alone / protobuf full decode", "ratio", parse.map((p, i) => p / pb[i]!))
      )
  }
    return {
      scenario,
      seconds,
      measured: `${what} posted by bench/loadgen.ts (4 concurrent requests of ${batchSize}, ${mode === "metrics" ? "JSON, server time" : "OTLP/protobuf from the OpenTelemetry JS SDK serializer"}) for up to ${o.duration} s or ${maxRequests} requests, holding back while more than 8 batches wait in the ingest queue; ` +
        `"persisted" = mplp_jobs_processed{stage="ingest"} on /metrics (an ingest job counts only after its transaction committed and its batch was handed to the aggregate queue) grew by the number of accepted requests; ` +
        `"windowed" = then the aggregate queue in Redis is empty (every batch folded into its windows). Rates are ${what} / seconds from the first request.`,
      figures,
      details: { runs, baselineMedian: baseRate, decode, tenantSettings: "defaults (10 s windows, 5 s lateness) with unlimited quotas" }
    } satisfies ScenarioResult
  }
  const seconds = (performance.now() - t0) / 1000
  const results = []
  for (const m of modes) results.push(await summarize(m, runs.get(m)!, seconds / modes.length))
  return results
}

/** The protobuf decode cost against JSON.parse of the same spans: bench/otlp-decode.ts in its own process. */
const decodeCost = () =>
  new Promise<DecodeCost>((resolve, reject) => {
    log("otlp: decode cost (bench/otlp-decode.ts, 40 requests x 500 spans, 7 measured rounds)")
    const child = spawn(process.execPath, ["--no-allocation-site-pretenuring", "--import", "tsx", "bench/otlp-decode.ts", "40", String(SPANS_PER_REQUEST), "--json"], { cwd: root, stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout.on("data", (d: Buffer) => (out += d.toString()))
    child.on("exit", (code) => {
      try {
        resolve(JSON.parse(out.trim().split("\n").pop() ?? "") as DecodeCost)
      } catch {
        reject(new Error(`otlp-decode exited ${code}: ${out.slice(-500)}`))
      }
    })
  })
