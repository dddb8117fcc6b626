/**
 * `npm run demo [-- --url URL --key KEY --minutes N --spike-every 3m --spike-length 45s --first-spike 20s
 *  --backfill 10m --interval 2s --seed N]`
 *
 * A multi-agent workload against a running service, through its public API only: a `planner` agent
 * sends `researcher` agents out, which call LLMs and tools (web_search, fetch_url, vector_db through a
 * `tool-server`, the last one searching a `vector-db`). Spans and metrics go through the OpenTelemetry JS
 * SDK (OTLP/HTTP protobuf), each live run is also a native execution (start, progress, finish) whose
 * traceparent parents the run's spans. Some calls and runs fail; every `--spike-every` the LLM provider
 * and the vector database slow down for `--spike-length`.
 *
 * It starts with `--backfill` of history sent in event-time order, so the detector (10 windows of 10 s
 * to warm up with the default settings) is warm within seconds and the first spike raises an anomaly
 * alert; then it runs live for `--minutes` and stops by itself. URL and key also come from MPLP_URL
 * and MPLP_KEY (the key the start banner printed).
 */
import { makeClient, waitFor } from "./demo/client.ts"
import type { Client } from "./demo/client.ts"
import { makeLoad } from "./demo/load.ts"
import { planRun, seeded, SERVICES, SPIKE } from "./demo/story.ts"
import type { Random, RunPlan } from "./demo/story.ts"
import { makeMetrics, makeTracing, parentContext } from "./demo/telemetry.ts"

const USAGE = "usage: npm run demo -- --key mplp_… [--url http://localhost:8080] [--minutes 10] [--spike-every 3m] [--spike-length 45s] [--first-spike 20s] [--backfill 10m] [--interval 2s] [--seed N]"
const HISTORY_INTERVAL_MS = 3000
/** Spans per history request: small requests, sent one after the other, each stored before the next. */
const HISTORY_CHUNK_SPANS = 1000

const durationMs = (flag: string, raw: string, unitless: number) => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim())
  if (m === null) throw new Error(`${flag}: "${raw}" is not a duration such as 90s, 3m or 1.5h`)
  const scale = m[2] === undefined ? unitless : { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"]
  return Number(m[1]) * scale
}

const parseArgs = (argv: ReadonlyArray<string>) => {
  const flags = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? ""
    const [name, inline] = a.startsWith("--") ? a.slice(2).split("=", 2) : [undefined, undefined]
    if (name === undefined || name === "") throw new Error(`unexpected argument "${a}"`)
    if (name === "help") throw new Error("")
    const value = inline ?? argv[++i]
    if (value === undefined) throw new Error(`--${name} needs a value`)
    flags.set(name, value)
  }
  const known = ["url", "key", "minutes", "spike-every", "spike-length", "first-spike", "backfill", "interval", "seed"]
  const unknown = [...flags.keys()].filter((f) => !known.includes(f))
  if (unknown.length > 0) throw new Error(`unknown option --${unknown[0]}`)
  const key = flags.get("key") ?? process.env.MPLP_KEY ?? ""
  if (key === "") throw new Error("the API key is required: --key or MPLP_KEY (the key `npm start` printed)")
  const d = (flag: string, fallback: string, unitless = 1000) => durationMs(`--${flag}`, flags.get(flag) ?? fallback, unitless)
  return {
    url: (flags.get("url") ?? process.env.MPLP_URL ?? "http://localhost:8080").replace(/\/+$/, ""),
    key,
    runMs: d("minutes", "10", 60_000),
    spikeEveryMs: Math.max(1000, d("spike-every", "3m")),
    spikeLengthMs: d("spike-length", "45s"),
    firstSpikeMs: d("first-spike", "20s"),
    backfillMs: d("backfill", "10m", 60_000),
    intervalMs: Math.max(100, d("interval", "2s")),
    seed: Number(flags.get("seed") ?? Date.now() % 1_000_000)
  }
}
type Options = ReturnType<typeof parseArgs>

const log = (line: string) => process.stdout.write(`[demo ${new Date().toISOString().slice(11, 19)}] ${line}\n`)
const sleepUntil = (atMs: number) => new Promise((r) => setTimeout(r, Math.max(0, atMs - Date.now())))
const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`

/** History in event-time order, one chunk stored before the next, then the metric points for the charts. */
const backfill = async (o: Options, r: Random, client: Client, tracing: ReturnType<typeof makeTracing>, load: ReturnType<typeof makeLoad>) => {
  const t0 = Date.now()
  const from = Math.round(t0 - o.backfillMs)
  const runs: Array<{ at: number; plan: RunPlan }> = []
  // Runs end before t0 − 5 s: the live spans that follow never find their windows closed.
  for (let at = from; at < t0 - 15_000; at += Math.round(HISTORY_INTERVAL_MS * (0.7 + 0.6 * r()))) runs.push({ at, plan: planRun(r, false, false) })
  let spans = 0
  let lastChunkStart = from
  for (let i = 0; i < runs.length;) {
    lastChunkStart = runs[i]?.at ?? from
    let size = 0
    let lastTrace = ""
    while (i < runs.length && (size === 0 || size + (runs[i]?.plan.spans.length ?? 0) <= HISTORY_CHUNK_SPANS)) {
      const run = runs[i++] as { at: number; plan: RunPlan }
      lastTrace = tracing.emit(run.plan, run.at, undefined, false, () => {}).traceId
      size += run.plan.spans.length
    }
    await tracing.flush()
    await waitFor(`the history up to ${new Date(runs[i - 1]?.at ?? t0).toISOString()} to be stored`, () => client.hasExecution(lastTrace), 120_000)
    spans += size
  }
  await waitFor("the history's windows", () => client.hasWindows("researcher", lastChunkStart), 60_000)
  // Metric history goes last: its windows are behind the watermark the spans moved (kept, shown, not
  // evaluated), so the metrics' own detector warms up on live points.
  const points: Array<Record<string, unknown>> = []
  for (let at = from; at < t0 - 15_000; at += 10_000) {
    for (const service of SERVICES) {
      for (const [name, value] of Object.entries(load.past(service, at))) points.push({ name, value: Math.round(value * 10) / 10, serviceName: service, time: Math.round(at) })
    }
  }
  if (points.length > 0) await client.postMetrics(points)
  log(`history: ${runs.length} runs (${spans} spans) and ${points.length} metric points over the last ${seconds(o.backfillMs)}, stored in ${seconds(Date.now() - t0)}`)
}

/** One live run: a native execution whose traceparent parents the run's spans, with progress and a finish. */
const liveRun = async (client: Client, tracing: ReturnType<typeof makeTracing>, load: ReturnType<typeof makeLoad>, plan: RunPlan, spike: boolean) => {
  const started = await client.startExecution({
    operationName: "research_report", serviceName: "planner", operationType: "agent_run", priority: "normal",
    context: { contextId: plan.conversationId, userId: plan.userId },
    tags: { team: "research", env: "demo" }, metadata: { topic: plan.topic, researchers: plan.researchers, spike }
  })
  const base = Date.now()
  const { ended } = tracing.emit(plan, base, parentContext(started.traceparent), true, load.record)
  const metrics = (extra: Record<string, number>) => {
    const g = load.gauges("planner", spike)
    return { cpuUsagePercent: Math.round(g.cpuUsagePercent * 10) / 10, memoryUsageMb: Math.round(g.memoryUsageMb), ...extra }
  }
  const steps = plan.progress.map(async (p, i) => {
    await sleepUntil(base + p.atMs)
    await client.update(started.executionId, {
      progressPercentage: p.percent, currentOperation: p.operation, metrics: metrics({ responseTimeMs: Math.round(p.atMs - (plan.progress[i - 1]?.atMs ?? 0)) }),
      events: [{ eventName: i === 0 ? "plan_ready" : "researcher_returned", eventType: "info", timestamp: new Date().toISOString(), metadata: { percent: p.percent } }]
    })
  })
  await sleepUntil(base + plan.durationMs)
  await Promise.allSettled(steps)
  await client.finish(started.executionId, {
    success: plan.failure === null, durationMs: Math.round(plan.durationMs),
    finalMetrics: metrics({ inputTokens: plan.tokens.input, outputTokens: plan.tokens.output }),
    ...(plan.failure === null ? {} : { errorMessage: plan.failure, errors: [{ code: "RESEARCHER_FAILED", message: plan.failure }] })
  })
  await ended
}

const main = async (o: Options) => {
  const client = makeClient(o.url, o.key)
  await client.check().catch((e: unknown) => {
    const status = typeof e === "object" && e !== null && "status" in e ? e.status : undefined
    throw new Error(status === 401 || status === 403
      ? `the key was refused (${String(status)}): pass the key \`npm start\` printed, with both scopes, as --key or MPLP_KEY`
      : `cannot reach ${o.url}: ${e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e)} (is \`npm start\` running?)`)
  })
  const r = seeded(o.seed)
  const load = makeLoad(r)
  const tracing = makeTracing(o.url, o.key)
  log(`${o.url}: ${seconds(o.backfillMs)} of history, then ${seconds(o.runMs)} live (a run every ~${seconds(o.intervalMs)}; a latency spike of ${seconds(o.spikeLengthMs)} every ${seconds(o.spikeEveryMs)}, the first after ${seconds(o.firstSpikeMs)}); seed ${o.seed}`)
  if (o.backfillMs > 0) await backfill(o, r, client, tracing, load)

  const liveStart = Date.now()
  const spikeOn = () => {
    const e = Date.now() - liveStart - o.firstSpikeMs
    return e >= 0 && e % o.spikeEveryMs < o.spikeLengthMs
  }
  const metrics = makeMetrics(o.url, o.key, ["researcher", "tool-server", "vector-db"], (s) => load.gauges(s, spikeOn()))
  let stopping = false
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => (stopping = true))
  const active = new Set<Promise<void>>()
  const counts = { runs: 0, failed: 0, errors: 0, spikes: 0 }
  let wasSpike = false
  log(`live: open ${o.url}/ in a browser (sign in with the key); Ctrl-C stops`)
  while (!stopping && Date.now() < liveStart + o.runMs) {
    const spike = spikeOn()
    if (spike !== wasSpike) {
      if (spike) counts.spikes++
      log(spike ? `latency spike: LLM calls ×${SPIKE.llm}, vector search ×${SPIKE.vector}, for ${seconds(o.spikeLengthMs)}` : "spike over")
      wasSpike = spike
    }
    const plan = planRun(r, spike)
    counts.runs++
    if (plan.failure !== null) counts.failed++
    const run: Promise<void> = liveRun(client, tracing, load, plan, spike)
      .catch((e: unknown) => {
        counts.errors++
        log(`run failed to report: ${e instanceof Error ? e.message : String(e)}`)
      })
      .finally(() => active.delete(run))
    active.add(run)
    const next = Date.now() + o.intervalMs * (0.6 + 0.8 * r())
    while (!stopping && Date.now() < next) await sleepUntil(Math.min(next, Date.now() + 200))
  }
  await Promise.all(active)
  await Promise.all([metrics.shutdown(), tracing.flush().then(() => tracing.shutdown())])
  log(`done: ${counts.runs} runs (${counts.failed} failing by design), ${counts.spikes} spike(s)${counts.errors > 0 ? `, ${counts.errors} not reported` : ""}`)
}

try {
  const options = parseArgs(process.argv.slice(2))
  main(options).then(
    () => setTimeout(() => process.exit(0), 200).unref(),
    (e: unknown) => {
      process.stderr.write(`demo: ${e instanceof Error ? e.message : String(e)}\n`)
      process.exitCode = 1
      setTimeout(() => process.exit(1), 200).unref()
    }
  )
} catch (e) {
  const message = e instanceof Error ? e.message : String(e)
  process.stderr.write(message === "" ? `${USAGE}\n` : `demo: ${message}\n${USAGE}\n`)
  process.exitCode = 2
}
