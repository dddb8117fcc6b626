import type { MetricRow } from "../src/domain/jobs.ts"

// The metric points every throughput scenario sends: 100 series (10 metrics x 10 services) with
// two attributes, values drawn from a seeded generator so that the baseline inserts the very rows
// the service is sent.

export const METRICS = ["cpuUsagePercent", "memoryUsageMb", "responseTimeMs", "errorRate", "queueDepth",
  "diskIoMbps", "gcPauseMs", "threadCount", "cacheHitRatio", "requestsPerSecond"] as const
export const SERVICES = Array.from({ length: 10 }, (_, i) => `svc-${String(i).padStart(2, "0")}`)
export const SERIES = METRICS.length * SERVICES.length

/** mulberry32: a small, fast, seeded PRNG (deterministic data across processes). */
export const prng = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A point as `POST /api/metrics` takes it (no time: the server stamps the time it accepts the request). */
export interface PointInput {
  readonly name: string
  readonly value: number
  readonly serviceName: string
  readonly attributes: Record<string, string>
}

/** Batch `b` of a run: `size` points cycling over the 100 series. */
export const metricBatch = (seed: number, b: number, size: number): Array<PointInput> => {
  const rnd = prng(seed * 1_000_003 + b)
  return Array.from({ length: size }, (_, i) => {
    const s = (b * size + i) % SERIES
    const name = METRICS[s % METRICS.length]!
    const serviceName = SERVICES[Math.floor(s / METRICS.length)]!
    return { name, value: Math.round(rnd() * 100_000) / 100, serviceName, attributes: { host: `host-${s % 7}`, region: s % 2 === 0 ? "eu-west-1" : "us-east-1" } }
  })
}

/** The rows the ingest stage persists for a batch accepted at `timeMs` (see src/ingest/native.ts). */
export const rowsOf = (points: ReadonlyArray<PointInput>, timeMs: number): Array<MetricRow> =>
  points.map((p) => ({ name: p.name, value: p.value, timeMs, serviceName: p.serviceName, traceId: null, attributes: p.attributes }))
