import type { ChildProcess } from "node:child_process"
import { mkdirSync, rmSync } from "node:fs"
import { join } from "node:path"
import type { Tenant } from "./client.ts"
import { startDbProcess } from "./footprintDb.ts"
import type { DbProcess } from "./footprintDb.ts"
import type { MemoryProbe } from "./footprintHost.ts"
import { common, fig, fmt, log, waitIdle } from "./harness.ts"
import type { Options } from "./harness.ts"
import { heapDiff } from "./heapSummary.ts"
import type { ExecutionsConfig, TenantsConfig } from "./loadFootprint.ts"
import { spawnLoadgen } from "./loadgenProcess.ts"
import { startService } from "./service.ts"
import { scrape } from "./client.ts"
import type { ActiveConfig } from "./loadActive.ts"
import { MB, root } from "./stats.ts"

// The footprint scenario: memory of idle tenants and open traces in the service process.

const IDLE_ACTOR_MS = 2_000
const ACTIVE = 1_000
/** Long enough that no actor passivates during the active round's load, short enough to wait for. */
const ACTIVE_IDLE_MS = 60_000

interface Latencies { readonly p50: number; readonly p90: number; readonly p99: number; readonly max: number }

const activeActors = (metrics: string) => Number(/^mplp_trace_actors_active(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1] ?? "NaN")

type MemoryDelta = { rssMB: number; heapUsedMB: number; heapTotalMB: number; externalMB: number }

const memoryDelta = (a: MemoryProbe, b: MemoryProbe): MemoryDelta => ({
  rssMB: (b.rss - a.rss) / MB, heapUsedMB: (b.heapUsed - a.heapUsed) / MB, heapTotalMB: (b.heapTotal - a.heapTotal) / MB, externalMB: (b.external - a.external) / MB
})

/**
 * One footprint round in a fresh service process (RSS only means something in a process that has not
 * already grown and shrunk): 1000 idle tenants, then 10000 open traces on them. With `db`, the service
 * uses that database process over DATABASE_URL instead of embedding it.
 */
const footprintRound = async (o: Options, snapshotDir?: string, db?: DbProcess) => {
  // Trace actors passivate 2 s after their execution's last event here (30 s by default), so the open
  // executions are measured idle, as they are once their agents go quiet: a deadline heap entry each.
  const env = { MPLP_TRACE_ACTOR_IDLE_MS: String(IDLE_ACTOR_MS), ...db?.env }
  const s = await startService({ entry: "bench/footprintHost.ts", nodeArgs: ["--expose-gc"], ipc: true, env })
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
    const dbA = db?.rss()
    const snapA = await snapshot("0-start")
    const created = await spawnLoadgen<{ tenants: Array<Tenant>; seconds: number }>({ ...common(s), mode: "tenants", count: 1000, concurrency: 8 } satisfies TenantsConfig, o.verbose).done
    const idled = await spawnLoadgen<{ started: number; finished: number; failed: number; drained: boolean; seconds: number }>(
      { ...common(s), mode: "executions", tenants: created.tenants, total: created.tenants.length, finish: true, concurrency: 8, drainTimeoutSeconds: 300 } satisfies ExecutionsConfig, o.verbose
    ).done
    await settle()
    const b = await probe()
    const dbB = db?.rss()
    const snapB = await snapshot("1-idle-tenants")
    const execs = await spawnLoadgen<{ started: number; failed: number; drained: boolean; sendSeconds: number; seconds: number }>(
      { ...common(s), mode: "executions", tenants: created.tenants, total: 10_000, finish: false, concurrency: 8, drainTimeoutSeconds: 300 } satisfies ExecutionsConfig, o.verbose
    ).done
    await settle()
    await new Promise((r) => setTimeout(r, IDLE_ACTOR_MS + 1000))
    const activeAfter = activeActors(await scrape(s.baseUrl))
    const c = await probe()
    const dbC = db?.rss()
    const snapC = await snapshot("2-open-traces")
    log(`  ${db === undefined ? "" : "database in its own process: "}active trace actors when probed ${activeAfter}; tenants ${created.tenants.length} (${created.seconds.toFixed(1)} s), idled ${idled.finished}, open executions ${execs.started} (${execs.seconds.toFixed(1)} s); ` +
      `RSS ${fmt(a.rss / MB)} → ${fmt(b.rss / MB)} → ${fmt(c.rss / MB)} MB, JS heap ${fmt(a.heapUsed / MB)} → ${fmt(b.heapUsed / MB)} → ${fmt(c.heapUsed / MB)} MB` +
      (dbA === undefined || dbB === undefined || dbC === undefined ? "" : `; database process RSS ${fmt(dbA / MB)} → ${fmt(dbB / MB)} → ${fmt(dbC / MB)} MB`))
    let heapGrowth: Record<string, unknown> | undefined
    if (snapA !== undefined && snapB !== undefined && snapC !== undefined) {
      heapGrowth = { idleTenants: heapDiff(snapA, snapB), openTraces: heapDiff(snapB, snapC) }
      for (const f of [snapA, snapB, snapC]) rmSync(f, { force: true })
    }
    return {
      startupSeconds: s.startupSeconds, start: a, afterIdleTenants: b, afterOpenTraces: c,
      idleTenants: memoryDelta(a, b), openTraces: memoryDelta(b, c),
      databaseProcessRssMB: dbA === undefined || dbB === undefined || dbC === undefined ? undefined : { start: dbA / MB, idleTenants: (dbB - dbA) / MB, openTraces: (dbC - dbB) / MB },
      created: created.tenants.length, idled, openExecutions: execs, activeActorsWhenProbed: activeAfter, heapGrowth
    }
  } finally {
    await s.stop()
  }
}

/** The memory probe of a footprint host over its IPC channel. */
const probeOf = (child: ChildProcess) => () =>
  new Promise<MemoryProbe>((resolve) => {
    const on = (msg: unknown) => {
      if (typeof msg === "object" && msg !== null && "probe" in msg) {
        child.off("message", on)
        resolve((msg as { probe: MemoryProbe }).probe)
      }
    }
    child.on("message", on)
    child.send("probe")
  })

/**
 * 1000 executions running at once (10 tenants, each followed on its live view), each updated 3 times:
 * memory with every trace actor active (idle timeout 2 min, so none passivates), and the latency from
 * an update's PATCH to its change on the live view.
 */
const activeRound = async (o: Options) => {
  const s = await startService({ entry: "bench/footprintHost.ts", nodeArgs: ["--expose-gc"], ipc: true, env: { MPLP_TRACE_ACTOR_IDLE_MS: String(ACTIVE_IDLE_MS) } })
  try {
    const probe = probeOf(s.child)
    await waitIdle(s, 300)
    await new Promise((r) => setTimeout(r, 1500))
    const a = await probe()
    const r = await spawnLoadgen<{
      executions: number; updates: number; seenLive: number; activeActors: number; startSeconds: number
      updateToLive: Latencies; updateHttp: Latencies; paced: Latencies; pacedSeen: number
    }>({ ...common(s), mode: "active", tenants: 10, total: ACTIVE, rounds: 3, concurrency: 16, paced: 200 } satisfies ActiveConfig, o.verbose).done
    await waitIdle(s, 300)
    const active = activeActors(await scrape(s.baseUrl))
    const b = await probe()
    log(`  ${r.executions} running executions, ${active} active trace actors; RSS ${fmt(a.rss / MB)} → ${fmt(b.rss / MB)} MB, JS heap ${fmt(a.heapUsed / MB)} → ${fmt(b.heapUsed / MB)} MB; ` +
      `update → live view p50 ${fmt(r.updateToLive.p50)} / p90 ${fmt(r.updateToLive.p90)} / p99 ${fmt(r.updateToLive.p99)} ms (${r.seenLive}/${r.updates} seen); PATCH answered p50 ${fmt(r.updateHttp.p50)} ms; ` +
      `one at a time: p50 ${fmt(r.paced.p50)} / p90 ${fmt(r.paced.p90)} / p99 ${fmt(r.paced.p99)} ms (${r.pacedSeen} seen)`)
    // The same process once every actor has passivated: what the active actors themselves held.
    const t0 = Date.now()
    while (activeActors(await scrape(s.baseUrl)) > 0 && Date.now() - t0 < ACTIVE_IDLE_MS * 2) await new Promise((r) => setTimeout(r, 1000))
    const c = await probe()
    const passivated = activeActors(await scrape(s.baseUrl))
    log(`  after passivation (${passivated} active): RSS ${fmt(c.rss / MB)} MB, JS heap ${fmt(c.heapUsed / MB)} MB: the active actors held ${fmt((b.heapUsed - c.heapUsed) / MB)} MB of JS heap`)
    return { ...r, activeActorsWhenProbed: active, memory: memoryDelta(a, b), actorsHeld: memoryDelta(c, b), activeAfterPassivation: passivated }
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
  // The same rounds with the database in a process of its own: the service process's RSS is then the
  // service's own memory, not the embedded database's pages.
  const separate: typeof rounds = []
  for (let r = 0; r < o.runs; r++) {
    log(`footprint round ${r + 1}/${o.runs}, database in its own process (workers/db.ts over DATABASE_URL)`)
    const db = await startDbProcess()
    try {
      separate.push(await footprintRound(o, undefined, db))
    } finally {
      await db.stop()
    }
  }
  let heapGrowth: Record<string, unknown> | undefined
  if (o.heapSnapshot) {
    // Writing a snapshot grows the process, so the snapshots come from an extra round that is not counted.
    log("footprint: an extra round with heap snapshots (not counted in the figures)")
    const dir = join(root, "bench", "results", "heap")
    mkdirSync(dir, { recursive: true })
    heapGrowth = (await footprintRound(o, dir)).heapGrowth
  }
  const col = (k: "idleTenants" | "openTraces", f: keyof MemoryDelta, rs = rounds) => rs.map((x) => x[k][f])
  return {
    scenario: "footprint" as const,
    seconds: (performance.now() - t0) / 1000,
    measured: "per round, in a fresh service process: 1000 tenants created with a key (admin API), each then starts and finishes one execution (auth, settings and key cached; its tenant actor from src/executions/TenantSupervisor.ts started and left idle) = \"1000 idle tenants\"; " +
      "then 10000 POST /api/executions over those tenants (10 each), never finished, measured once their trace actors passivated (MPLP_TRACE_ACTOR_IDLE_MS=2000 here): a deadline heap entry each = \"10000 open traces\". " +
      "RSS and JS heap of the whole service process (API + all stages + the embedded database) after full GCs, once the ingest queue is drained. " +
      "Embedded mode: the database is in the process, so the pages it touches for the new rows (tenants, keys, executions) are part of the RSS delta; the JS heap delta is the service's own state. " +
      "The \"database in its own process\" figures repeat the rounds with the embedded database served by workers/db.ts over DATABASE_URL (pool of 1), as a multi-process deployment runs it: the service process's RSS is then its own.",
    figures: [
      fig("footprint", "1000 idle tenants: RSS", "MB", col("idleTenants", "rssMB")),
      fig("footprint", "1000 idle tenants: JS heap used", "MB", col("idleTenants", "heapUsedMB")),
      fig("footprint", "10000 open traces: RSS", "MB", col("openTraces", "rssMB")),
      fig("footprint", "10000 open traces: JS heap used", "MB", col("openTraces", "heapUsedMB")),
      fig("footprint", "10000 open traces: V8 heap reserved (heapTotal)", "MB", col("openTraces", "heapTotalMB")),
      fig("footprint", "1000 idle tenants: service RSS, database in its own process", "MB", col("idleTenants", "rssMB", separate)),
      fig("footprint", "1000 idle tenants: service JS heap used, database in its own process", "MB", col("idleTenants", "heapUsedMB", separate)),
      fig("footprint", "10000 open traces: service RSS, database in its own process", "MB", col("openTraces", "rssMB", separate)),
      fig("footprint", "10000 open traces: service JS heap used, database in its own process", "MB", col("openTraces", "heapUsedMB", separate)),
      fig("footprint", "10000 open traces: database process RSS growth", "MB", separate.map((x) => x.databaseProcessRssMB?.openTraces ?? Number.NaN))
    ],
    details: { rounds, separateDatabaseRounds: separate, heapGrowth }
  }
}

/** The `actors` scenario: 1000 executions running at once, each with an active trace actor. */
export const runActors = async (o: Options) => {
  const t0 = performance.now()
  const rounds: Array<Awaited<ReturnType<typeof activeRound>>> = []
  for (let r = 0; r < o.runs; r++) {
    log(`actors round ${r + 1}/${o.runs}: ${ACTIVE} executions running at once, each updated 3 times, followed on the live view`)
    rounds.push(await activeRound(o))
  }
  return {
    scenario: "actors" as const,
    seconds: (performance.now() - t0) / 1000,
    measured: "per round, in a fresh service process (workers/all.ts, MPLP_TRACE_ACTOR_IDLE_MS=60000 so no actor passivates during the load): 10 tenants, each followed on its live view (SSE); " +
      `${ACTIVE} POST /api/executions over them, kept running; then 3 rounds of one PATCH per execution (16 in flight), then 200 PATCHes one at a time. ` +
      "Memory: RSS and JS heap after full GCs, before the load and after it (every trace actor still active; embedded database, so RSS includes its pages for the new rows), and once every actor passivated: the difference is what the active actors held. " +
      "Latency: from sending a PATCH to its change arriving on the live view (API → ingest queue → trace actor → Redis stream → API → client); in the rounds it includes the ingest backlog the rounds build up, one at a time it does not.",
    figures: [
      fig("actors", "1000 active executions: RSS", "MB", rounds.map((x) => x.memory.rssMB)),
      fig("actors", "1000 active executions: JS heap used", "MB", rounds.map((x) => x.memory.heapUsedMB)),
      fig("actors", "1000 active executions: active trace actors", "actors", rounds.map((x) => x.activeActorsWhenProbed)),
      fig("actors", "1000 active trace actors: JS heap held (active − passivated)", "MB", rounds.map((x) => x.actorsHeld.heapUsedMB)),
      fig("actors", "1000 active trace actors: RSS held (active − passivated)", "MB", rounds.map((x) => x.actorsHeld.rssMB)),
      fig("actors", "update → live view, one at a time, p50", "ms", rounds.map((x) => x.paced.p50)),
      fig("actors", "update → live view, one at a time, p99", "ms", rounds.map((x) => x.paced.p99)),
      fig("actors", "update → live view, 3000 in rounds (backlog), p50", "ms", rounds.map((x) => x.updateToLive.p50)),
      fig("actors", "update → live view, 3000 in rounds (backlog), p99", "ms", rounds.map((x) => x.updateToLive.p99)),
      fig("actors", "PATCH answered p50", "ms", rounds.map((x) => x.updateHttp.p50))
    ],
    details: { rounds }
  }
}
