/**
 * `npx tsx scripts/seriesMemory.ts [--series N] [--batches-per-window B]`: Redis bytes per active
 * series in steady state. One tenant's N series each get B batches per window (10 s windows, the
 * default settings) through the real WindowStore and SeriesLimiter; windows close as the watermark
 * passes them and their state expires after MPLP_WINDOW_RETAIN_SECONDS (120 s by default), so the
 * steady state holds, per series, its open window(s) and the closed windows of the retention (compacted to one merged partial each, as the aggregate stage does). The
 * figure is the sum of MEMORY USAGE over every key the run wrote, divided by N. Uses its own prefix.
 */
import { ConfigProvider, Effect, Layer, ManagedRuntime } from "effect"
import { randomUUID } from "node:crypto"
import { parseArgs } from "node:util"
import { WindowStore } from "../src/aggregation/WindowStore.ts"
import { Schema } from "effect"
import { addPoint, emptyAgg, mergeAgg, WindowAggSchema } from "../src/aggregation/window.ts"
import { AppConfig } from "../src/config/AppConfig.ts"
import { deleteKeysWithPrefix, RedisConnection } from "../src/queues/Redis.ts"
import { openRedis, prefixMemory } from "../bench/client.ts"
import { SeriesLimiter } from "../src/tenants/SeriesLimiter.ts"

const { values } = parseArgs({ options: { series: { type: "string", default: "2000" }, "batches-per-window": { type: "string", default: "5" } }, strict: true })
const decode = Schema.decodeUnknownSync(Schema.parseJson(WindowAggSchema))
const series = Number(values.series)
const batches = Number(values["batches-per-window"])
const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379"
const prefix = `memory-${randomUUID().slice(0, 8)}`
const retainSeconds = Number(process.env.MPLP_WINDOW_RETAIN_SECONDS ?? 120)
const sizeMs = 10_000

const config = AppConfig.layer.pipe(Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([
  ["MPLP_QUEUE_PREFIX", prefix], ["REDIS_URL", url], ["MPLP_WINDOW_RETAIN_SECONDS", String(retainSeconds)]
])))))
const layer = Layer.mergeAll(WindowStore.Live, SeriesLimiter.Live).pipe(Layer.provideMerge(RedisConnection.Live), Layer.provideMerge(config))
const runtime = ManagedRuntime.make(layer)

const main = Effect.gen(function* () {
  const windows = yield* WindowStore
  const limiter = yield* SeriesLimiter
  const tenant = "memory-tenant"
  const keys = Array.from({ length: series }, (_, i) => `cpuUsagePercent|host-${i}|`)
  // Windows that fit in the retention, plus the open one: the steady state of a series.
  const steps = retainSeconds * 1000 / sizeMs + 1
  const t0 = Math.floor(Date.now() / sizeMs) * sizeMs - steps * sizeMs
  for (let w = 0; w < steps; w++) {
    const start = t0 + w * sizeMs
    for (let b = 0; b < batches; b++) {
      let agg = emptyAgg()
      for (let k = 0; k < 10; k++) agg = addPoint(agg, 40 + Math.random() * 20)
      const partials = keys.map((seriesKey) => ({
        seriesKey, windowStartMs: start, windowEndMs: start + sizeMs, agg,
        meta: { metricName: "cpuUsagePercent", serviceName: seriesKey.split("|")[1], operation: "", sizeMs }
      }))
      for (let i = 0; i < partials.length; i += 1000) yield* windows.addPartials(tenant, `job-${w}-${b}`, partials.slice(i, i + 1000), Number.NEGATIVE_INFINITY)
      yield* limiter.admit(tenant, keys, series)
    }
    yield* windows.advanceWatermark(tenant, start + sizeMs - 1)
    // Close what the watermark passed (lateness 5 s: the previous window).
    const due = yield* windows.closeThrough(tenant, start - 5_000, start - 5_000, series * 2)
    const compactions = []
    const closed = yield* windows.closeMany(tenant, due)
    for (const [i, d] of due.entries()) {
      const { partials, names, rev } = closed[i]!
      if (names.length > 1) compactions.push({ seriesKey: d.seriesKey, windowStartMs: d.windowStartMs, merged: partials.map((p) => decode(p)).reduce(mergeAgg, emptyAgg()), names, rev })
    }
    yield* windows.compact(tenant, compactions)
    yield* windows.forgetClosed(tenant, due.map((d) => d.member))
  }
})

const measure = async () => {
  const r = openRedis(url)
  const memory = await prefixMemory(r, prefix)
  await r.quit()
  return memory
}

try {
  await runtime.runPromise(main)
  const { bytes, keys } = await measure()
  console.log(JSON.stringify({
    series, batchesPerWindow: batches, windowSeconds: sizeMs / 1000, retainSeconds, keys,
    bytes, bytesPerSeries: Math.round(bytes / series), hashesPerSeries: +(keys / series).toFixed(1)
  }))
} finally {
  await runtime.dispose()
  await deleteKeysWithPrefix(url, prefix)
}
