import { mkdirSync, rmSync } from "node:fs"
import { join } from "node:path"
import type { Tenant } from "./client.ts"
import type { MemoryProbe } from "./footprintHost.ts"
import { common, fig, fmt, log, waitIdle } from "./harness.ts"
import type { Options } from "./harness.ts"
import { heapDiff } from "./heapSummary.ts"
import type { ExecutionsConfig, TenantsConfig } from "./loadFootprint.ts"
import { spawnLoadgen } from "./loadgenProcess.ts"
import { startService } from "./service.ts"
import { MB, root } from "./stats.ts"

// The footprint scenario: memory of idle tenants and open traces in the service process.

type MemoryDelta = { rssMB: number; heapUsedMB: number; heapTotalMB: number; externalMB: number }

const memoryDelta = (a: MemoryProbe, b: MemoryProbe): MemoryDelta => ({
  rssMB: (b.rss - a.rss) / MB, heapUsedMB: (b.heapUsed - a.heapUsed) / MB, heapTotalMB: (b.heapTotal - a.heapTotal) / MB, externalMB: (b.external - a.external) / MB
})

/**
 * One footprint round in a fresh service process (RSS only means something in a process that has not
 * already grown and shrunk): 1000 idle tenants, then 10000 open traces on them.
 */
const footprintRound = async (o: Options, snapshotDir?: string) => {
  const s = await startService({ entry: "bench/footprintHost.ts", nodeArgs: ["--expose-gc"], ipc: true })
  try {
    const ask = <A>(message: string | Record<string, string>, key: string) =>
      new Promise<A>((resolve) => {
        const on = (msg: unknown) => {
          if (typeof msg === "object" && msg !== null && key in msg) {
            s.child.off("message", on)
            resolve((msg as Record<string, A>)[key]!)
          }
        }
        s.child.on("message", on)
        s.child.send(message)
      })
    const probe = () => ask<MemoryProbe>("probe", "probe")
    const snapshot = (name: string) =>
      snapshotDir === undefined ? Promise.resolve(undefined) : ask<string>({ snapshot: join(snapshotDir, `${name}.heapsnapshot`) }, "snapshotWritten")
    const settle = async () => {
      await waitIdle(s, 300)
      await new Promise((r) => setTimeout(r, 1500))
    }
    await settle()
    const a = await probe()
    const snapA = await snapshot("0-start")
    const created = await spawnLoadgen<{ tenants: Array<Tenant>; seconds: number }>({ ...common(s), mode: "tenants", count: 1000, concurrency: 8 } satisfies TenantsConfig, o.verbose).done
    const idled = await spawnLoadgen<{ started: number; finished: number; failed: number; drained: boolean; seconds: number }>(
      { ...common(s), mode: "executions", tenants: created.tenants, total: created.tenants.length, finish: true, concurrency: 8, drainTimeoutSeconds: 300 } satisfies ExecutionsConfig, o.verbose
    ).done
    await settle()
    const b = await probe()
    const snapB = await snapshot("1-idle-tenants")
    const execs = await spawnLoadgen<{ started: number; failed: number; drained: boolean; sendSeconds: number; seconds: number }>(
      { ...common(s), mode: "executions", tenants: created.tenants, total: 10_000, finish: false, concurrency: 8, drainTimeoutSeconds: 300 } satisfies ExecutionsConfig, o.verbose
    ).done
    await settle()
    const c = await probe()
    const snapC = await snapshot("2-open-traces")
    log(`  tenants ${created.tenants.length} (${created.seconds.toFixed(1)} s), idled ${idled.finished}, open executions ${execs.started} (${execs.seconds.toFixed(1)} s); ` +
      `RSS ${fmt(a.rss / MB)} → ${fmt(b.rss / MB)} → ${fmt(c.rss / MB)} MB, JS heap ${fmt(a.heapUsed / MB)} → ${fmt(b.heapUsed / MB)} → ${fmt(c.heapUsed / MB)} MB`)
    let heapGrowth: Record<string, unknown> | undefined
    if (snapA !== undefined && snapB !== undefined && snapC !== undefined) {
      heapGrowth = { idleTenants: heapDiff(snapA, snapB), openTraces: heapDiff(snapB, snapC) }
      for (const f of [snapA, snapB, snapC]) rmSync(f, { force: true })
    }
    return {
      startupSeconds: s.startupSeconds, start: a, afterIdleTenants: b, afterOpenTraces: c,
      idleTenants: memoryDelta(a, b), openTraces: memoryDelta(b, c), created: created.tenants.length, idled, openExecutions: execs, heapGrowth
    }
  } finally {
    await s.stop()
  }
}

export const runFootprint = async (o: Options) => {
  const t0 = performance.now()
  log("footprint: the service (workers/all.ts's runProcess) in bench/footprintHost.ts with --expose-gc, a fresh process per round; memory probed over IPC after full GCs")
  const rounds: Array<Awaited<ReturnType<typeof footprintRound>>> = []
  for (let r = 0; r < o.runs; r++) {
    log(`footprint round ${r + 1}/${o.runs}: 1000 tenants, each with one execution started and finished (tenant actor left idle), then 10000 open executions`)
    rounds.push(await footprintRound(o))
  }
  let heapGrowth: Record<string, unknown> | undefined
  if (o.heapSnapshot) {
    // Writing a snapshot grows the process, so the snapshots come from an extra round that is not counted.
    log("footprint: an extra round with heap snapshots (not counted in the figures)")
    const dir = join(root, "bench", "results", "heap")
    mkdirSync(dir, { recursive: true })
    heapGrowth = (await footprintRound(o, dir)).heapGrowth
  }
  const col = (k: "idleTenants" | "openTraces", f: keyof MemoryDelta) => rounds.map((x) => x[k][f])
  return {
    scenario: "footprint" as const,
    seconds: (performance.now() - t0) / 1000,
    measured: "per round, in a fresh service process: 1000 tenants created with a key (admin API), each then starts and finishes one execution (auth, settings and key cached; its tenant actor from src/tenants/TenantSupervisor.ts started and left idle) = \"1000 idle tenants\"; " +
      "then 10000 POST /api/executions over those tenants (10 each), never finished: one trace actor each, sleeping until the trace timeout = \"10000 open traces\". " +
      "RSS and JS heap of the whole service process (API + all stages + the embedded database) after full GCs, once the ingest queue is drained. " +
      "Embedded mode: the database is in the process, so the pages it touches for the new rows (tenants, keys, executions) are part of the RSS delta; the JS heap delta is the service's own state.",
    figures: [
      fig("footprint", "1000 idle tenants: RSS", "MB", col("idleTenants", "rssMB")),
      fig("footprint", "1000 idle tenants: JS heap used", "MB", col("idleTenants", "heapUsedMB")),
      fig("footprint", "10000 open traces: RSS", "MB", col("openTraces", "rssMB")),
      fig("footprint", "10000 open traces: JS heap used", "MB", col("openTraces", "heapUsedMB")),
      fig("footprint", "10000 open traces: V8 heap reserved (heapTotal)", "MB", col("openTraces", "heapTotalMB"))
    ],
    details: { rounds, heapGrowth }
  }
}
