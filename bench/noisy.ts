import { common, fig, fmt, log, waitIdle } from "./harness.ts"
import type { Options, ServiceHolder } from "./harness.ts"
import type { noisyNeighbour, NoisyConfig } from "./loadNoisy.ts"
import { spawnLoadgen } from "./loadgenProcess.ts"

// The noisy-neighbour scenario: a quiet tenant's 202 → stored, alone and next to a tenant at 10× its quota.

type NoisyResult = Awaited<ReturnType<typeof noisyNeighbour>>

/** Quiet tenants, each at 10 % of its requests quota (see loadNoisy.ts: enough samples for a p99). */
const QUIET_TENANTS = 8

/**
 * The load generator's nice (MPLP_BENCH_LOADGEN_NICE, default 10; 0: as the service). Its clients stand
 * for other machines: on the bench's two cores, A's client process (25 requests of 100 KB a second)
 * competes with the service for CPU, which no tenant's traffic does in production, and B's p99 measured
 * that as much as the service's isolation (embedded, the same host, two sets each: 1.34× and 1.70× with
 * the generator at the service's priority, 0.93× and 1.20× at nice 10). Alone and with A alike.
 */
const loadgenNice = () => Number(process.env.MPLP_BENCH_LOADGEN_NICE ?? 10)

const p99 = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(0.99 * s.length))] ?? Number.NaN
}

export const runNoisy = async (o: Options, holder: ServiceHolder) => {
  const t0 = performance.now()
  const s = await holder.get()
  const runs: Array<NoisyResult> = []
  for (let r = 0; r < o.runs; r++) {
    await waitIdle(s)
    const config: NoisyConfig = { ...common(s), mode: "noisy", seconds: o.duration, loudClients: 4, loudBatch: 2000, quietTenants: QUIET_TENANTS }
    log(`noisy run ${r + 1}/${o.runs}: ${o.duration} s of B alone, then ${o.duration} s of B with A`)
    const v = await spawnLoadgen<NoisyResult>(config, o.verbose, loadgenNice()).done
    log(`  B alone p50 ${fmt(v.alone.latencyMs.p50)} / p99 ${fmt(v.alone.latencyMs.p99)} ms; with A p50 ${fmt(v.withLoud.latencyMs.p50)} / p99 ${fmt(v.withLoud.latencyMs.p99)} ms; ` +
      `B lost ${v.alone.lost + v.withLoud.lost}, refused ${JSON.stringify(v.withLoud.refused)} ${JSON.stringify(v.withLoud.reasons)} alone ${JSON.stringify(v.alone.refused)}; A ${JSON.stringify(v.loud.statuses)} (partitions A ${v.partitions.a}, B ${v.partitions.b} of ${v.partitions.count}; quiet tenants in A's partition: ${v.partitions.quietInA})`)
    log(`  B POST → answer p50/p99: alone ${fmt(v.alone.requestMs.p50)} / ${fmt(v.alone.requestMs.p99)}, with A ${fmt(v.withLoud.requestMs.p50)} / ${fmt(v.withLoud.requestMs.p99)} ms (max ${fmt(v.withLoud.requestMs.max)}); ` +
      `sent late by the client, max: alone ${fmt(v.alone.sendLateMs.max)}, with A ${fmt(v.withLoud.sendLateMs.max)} ms`)
    log(`  B queued (202 → a worker took it) p50/p99: alone ${fmt(v.alone.queuedMs.p50)} / ${fmt(v.alone.queuedMs.p99)}, with A ${fmt(v.withLoud.queuedMs.p50)} / ${fmt(v.withLoud.queuedMs.p99)} ms; ` +
      `working (taken → stored): alone ${fmt(v.alone.workingMs.p50)} / ${fmt(v.alone.workingMs.p99)}, with A ${fmt(v.withLoud.workingMs.p50)} / ${fmt(v.withLoud.workingMs.p99)} ms`)
    const loop = (x: NoisyResult["alone"]) => (x.eventLoop === undefined ? "not served" : `${fmt(x.eventLoop.delayP99Ms)} ms late p99, ${fmt(100 * x.eventLoop.utilization)} % busy`)
    log(`  the service's event loop (its last 10 s as the sending ended): alone ${loop(v.alone)}; with A ${loop(v.withLoud)}`)
    runs.push(v)
  }
  const pooledAlone = p99(runs.flatMap((x) => x.alone.latencies))
  const pooledWith = p99(runs.flatMap((x) => x.withLoud.latencies))
  log(`B p99 over the ${runs.reduce((n, x) => n + x.alone.latencies.length, 0)} / ${runs.reduce((n, x) => n + x.withLoud.latencies.length, 0)} batches of every run: alone ${fmt(pooledAlone)} ms, with A ${fmt(pooledWith)} ms (${fmt(pooledWith / pooledAlone)}×)`)
  const refusedB = (x: NoisyResult) => Object.values(x.alone.refused).reduce((a, b) => a + b, 0) + Object.values(x.withLoud.refused).reduce((a, b) => a + b, 0)
  return {
    scenario: "noisy" as const,
    seconds: (performance.now() - t0) / 1000,
    measured: `tenants A and B with the default settings; the load generator at nice ${loadgenNice()}; A offers 10× its points quota in 2,000-point batches from 4 clients (paced, whatever the answer); ` +
      `${QUIET_TENANTS} quiet tenants B each send one-point batches at 10 % of their requests quota (B's figures pool them); B's latency = its ingest job's finishedAt (rows committed) − the client's 202, for ${o.duration} s alone, then ${o.duration} s with A`,
    figures: [
      fig("noisy", "B 202 → stored p50, alone", "ms", runs.map((x) => x.alone.latencyMs.p50)),
      fig("noisy", "B 202 → stored p99, alone", "ms", runs.map((x) => x.alone.latencyMs.p99)),
      fig("noisy", "B 202 → stored p50, with A", "ms", runs.map((x) => x.withLoud.latencyMs.p50)),
      fig("noisy", "B 202 → stored p99, with A", "ms", runs.map((x) => x.withLoud.latencyMs.p99)),
      fig("noisy", "B p99 with A ÷ alone", "ratio", runs.map((x) => x.withLoud.latencyMs.p99 / x.alone.latencyMs.p99)),
      fig("noisy", "quiet tenants in A's ingest partition", "count", runs.map((x) => x.partitions.quietInA)),
      fig("noisy", "B POST → 202 p99, alone", "ms", runs.map((x) => x.alone.requestMs.p99)),
      fig("noisy", "B POST → 202 p99, with A", "ms", runs.map((x) => x.withLoud.requestMs.p99)),
      fig("noisy", "B 202 → stored p99 of every run's batches pooled, alone", "ms", [pooledAlone]),
      fig("noisy", "B 202 → stored p99 of every run's batches pooled, with A", "ms", [pooledWith]),
      fig("noisy", "B pooled p99 with A ÷ alone", "ratio", [pooledWith / pooledAlone]),
      fig("noisy", "B batches lost (accepted, never stored)", "count", runs.map((x) => x.alone.lost + x.withLoud.lost)),
      fig("noisy", "B batches refused", "count", runs.map(refusedB)),
      ...(runs.every((x) => x.alone.eventLoop !== undefined && x.withLoud.eventLoop !== undefined)
        ? [
          fig("noisy", "service event loop delay p99, alone", "ms", runs.map((x) => x.alone.eventLoop?.delayP99Ms ?? Number.NaN)),
          fig("noisy", "service event loop delay p99, with A", "ms", runs.map((x) => x.withLoud.eventLoop?.delayP99Ms ?? Number.NaN)),
          fig("noisy", "service event loop busy, alone", "%", runs.map((x) => 100 * (x.alone.eventLoop?.utilization ?? Number.NaN))),
          fig("noisy", "service event loop busy, with A", "%", runs.map((x) => 100 * (x.withLoud.eventLoop?.utilization ?? Number.NaN)))
        ]
        : []),
      fig("noisy", "A batches 429", "count", runs.map((x) => x.loud.statuses["429"] ?? 0)),
      fig("noisy", "A batches 202", "count", runs.map((x) => x.loud.statuses["202"] ?? 0))
    ],
    details: { runs }
  }
}
