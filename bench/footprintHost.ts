/**
 * The footprint scenario's host: exactly what `npm start` runs (workers/all.ts: the API and every
 * stage in one process, via the same runProcess), plus a memory probe on the IPC channel. Started
 * with --expose-gc so that a probe measures live memory after a full collection, not garbage.
 */
import { writeHeapSnapshot } from "node:v8"
import { STAGES } from "../src/queues/Queues.ts"
import { runProcess } from "../src/main.ts"

export interface MemoryProbe {
  readonly rss: number
  readonly heapUsed: number
  readonly heapTotal: number
  readonly external: number
  readonly arrayBuffers: number
}

const collect = async (): Promise<MemoryProbe> => {
  const gc = (globalThis as { gc?: () => void }).gc
  for (let i = 0; i < 3; i++) {
    gc?.()
    await new Promise((r) => setTimeout(r, 50))
  }
  const m = process.memoryUsage()
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers }
}

process.on("message", (msg: unknown) => {
  if (msg === "probe") void collect().then((m) => process.send?.({ probe: m }))
  if (typeof msg === "object" && msg !== null && "snapshot" in msg && typeof msg.snapshot === "string") {
    const file = msg.snapshot
    void collect().then(() => process.send?.({ snapshotWritten: writeHeapSnapshot(file) }))
  }
})
process.on("disconnect", () => process.kill(process.pid, "SIGTERM"))

runProcess({ api: true, stages: STAGES, concurrency: Number(process.env.MPLP_CONCURRENCY ?? 4), demoTenant: false })
