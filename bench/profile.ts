/**
 * Where the service's CPU time went, from a V8 .cpuprofile (`node --cpu-prof`): self time by
 * component (embedded database, BullMQ/ioredis, Effect, HTTP, the app's own folders, GC…), the
 * hottest functions, and, for every sample, the innermost frame of the app's own code on the stack
 * (which request or stage path paid for it). Run alone: npx tsx bench/profile.ts FILE.cpuprofile
 */
import { readdirSync, readFileSync, statSync } from "node:fs"
import { SourceMap } from "node:module"
import { tmpdir, userInfo } from "node:os"
import { join } from "node:path"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
  readonly columnNumber: number
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}

interface CpuProfile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
  readonly startTime: number
  readonly endTime: number
}

export interface Share {
  readonly name: string
  readonly ms: number
  readonly percent: number
  /** CPU µs per point/span: the service's measured CPU time per item, split by this share of the busy samples. */
  readonly cpuUsPerItem?: number
}

export interface ProfileSummary {
  readonly label: string
  readonly wallSeconds: number
  readonly busySeconds: number
  /** Items (points or spans) handled in the windows, and the service's CPU µs per item. */
  readonly items?: number
  readonly cpuUsPerItem?: number
  /** Self time by component, native work charged to the component that called it. */
  readonly byComponent: ReadonlyArray<Share>
  /** The same, with the native part named (`embedded DB ← socket writes` is PGlite's file writes). */
  readonly byComponentDetail: ReadonlyArray<Share>
  readonly topFunctions: ReadonlyArray<Share>
  readonly byAppFrame: ReadonlyArray<Share>
}

/** A stretch of the profile to look at, in CLOCK_MONOTONIC µs (process.hrtime / 1000: V8's profile clock). */
export interface Window {
  readonly label: string
  readonly startUs: number
  readonly endUs: number
  /** Points or spans handled in this window, and the CPU seconds the service used meanwhile (from /proc). */
  readonly items?: number
  readonly cpuSeconds?: number
}

const short = (url: string) => url.replace(/^file:\/\//, "").replace(/^.*\/node_modules\//, "").replace(/^.*\/work\/main\//, "")

/** The component a frame belongs to, by its script. */
export const componentOf = (f: CallFrame): string => {
  const u = f.url
  if (f.functionName === "(garbage collector)") return "GC"
  if (f.functionName === "(idle)") return "idle"
  if (f.functionName === "(program)") return "(program: native, unattributed)"
  if (u.startsWith("wasm://") || /pglite/.test(u)) return "embedded DB (PGlite: WASM + JS)"
  if (/node_modules\/pg(-[a-z]+)?\//.test(u)) return "pg driver"
  if (/node_modules\/bullmq\//.test(u)) return "BullMQ"
  if (/node_modules\/(ioredis|@ioredis|redis-parser|cluster-key-slot|msgpackr)\//.test(u)) return "ioredis / msgpackr"
  if (/node_modules\/effect\/dist\/esm\/(Schema|ParseResult|SchemaAST|internal\/schema)/.test(u)) return "effect Schema (decode/encode)"
  if (/node_modules\/effect\//.test(u)) return "effect runtime"
  if (/node_modules\/@effect\/platform/.test(u)) return "@effect/platform HTTP"
  if (/node_modules\/@opentelemetry\//.test(u)) return "OpenTelemetry SDK"
  if (/node_modules\/(pino|sonic-boom|thread-stream)/.test(u)) return "pino logging"
  if (/node_modules\/tsx\//.test(u)) return "tsx loader"
  if (/node_modules\//.test(u)) return `other package: ${short(u).split("/")[0]}`
  const app = /\/work\/main\/(src\/[^/]+|workers)\//.exec(u)
  if (app !== null) return `app: ${app[1]}`
  if (u === "") {
    if (f.functionName === "writeBuffer" || f.functionName === "writeUtf8String" || f.functionName === "writev") return "native: socket writes"
    return `native: ${f.functionName || "(anonymous)"}`
  }
  if (u.startsWith("node:")) return /http|net|stream|undici/.test(u) ? "node: http / net / streams" : "node: other internals"
  return `other: ${short(u)}`
}

// tsx runs the .ts sources minified onto one line (keepNames, so most functions show up anonymous);
// its on-disk cache (<tmpdir>/tsx-<uid>) keeps each compiled file with its source map, which turns a
// profile position back into a line of the source. The newest cache entry of a file is the one running.
let sourceMaps: Map<string, { readonly map: SourceMap; readonly lines: ReadonlyArray<string> }> | undefined
const tsxSourceMaps = () => {
  if (sourceMaps !== undefined) return sourceMaps
  const found = new Map<string, { map: SourceMap; lines: ReadonlyArray<string>; mtime: number }>()
  try {
    const dir = join(tmpdir(), `tsx-${userInfo().uid}`)
    for (const f of readdirSync(dir)) {
      try {
        const path = join(dir, f)
        const mtime = statSync(path).mtimeMs
        const entry = JSON.parse(readFileSync(path, "utf8")) as { map?: unknown }
        const raw = typeof entry.map === "string" ? (JSON.parse(entry.map) as unknown) : entry.map
        if (typeof raw !== "object" || raw === null || !("sources" in raw) || !Array.isArray(raw.sources)) continue
        const source = String(raw.sources[0] ?? "")
        if (!source.includes("/src/") || (found.get(source)?.mtime ?? 0) > mtime) continue
        found.set(source, { map: new SourceMap(raw as ConstructorParameters<typeof SourceMap>[0]), lines: readFileSync(source, "utf8").split("\n"), mtime })
      } catch {
        // not a cache entry we can read
      }
    }
  } catch {
    // no tsx cache: positions stay as they are
  }
  sourceMaps = new Map([...found].map(([k, v]) => [k, { map: v.map, lines: v.lines }]))
  return sourceMaps
}

/** `name src/file.ts:line`, the line found through tsx's source map (and quoted when the function has no name). */
const sourceLabel = (f: CallFrame): string => {
  const path = f.url.replace(/^file:\/\//, "")
  const m = tsxSourceMaps().get(path)
  const e = m?.map.findEntry(f.lineNumber, f.columnNumber)
  if (m === undefined || e === undefined || !("originalLine" in e)) return `${f.functionName || "(anonymous)"} ${short(f.url)}:${f.lineNumber + 1}`
  const text = (m.lines[e.originalLine] ?? "").trim().slice(0, 70)
  return `${short(f.url)}:${e.originalLine + 1} ${f.functionName === "" ? `«${text}»` : f.functionName}`
}

const label = (f: CallFrame) =>
  /\/work\/main\/src\//.test(f.url) ? sourceLabel(f) : `${f.functionName || "(anonymous)"} ${f.url === "" ? "" : `${short(f.url)}:${f.lineNumber + 1}`}`.trim()

const top = (m: Map<string, number>, total: number, n: number): Array<Share> =>
  [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([name, us]) => ({ name, ms: Math.round(us / 100) / 10, percent: Math.round((1000 * us) / total) / 10 }))

/** The main thread's profile (`CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile`, thread 0). */
export const isMainThreadProfile = (file: string) => /\.\d+\.0\.\d+\.cpuprofile$/.test(file)

/**
 * Summaries of one .cpuprofile: the whole of it, and for each label of `windows` the samples that
 * fall inside that label's windows (e.g. only the metrics load, not start-up or the other scenarios).
 */
export const summarizeProfile = (file: string, windows: ReadonlyArray<Window> = [], n = 25): Array<ProfileSummary> => {
  const p = JSON.parse(readFileSync(file, "utf8")) as CpuProfile
  const byId = new Map(p.nodes.map((x) => [x.id, x]))
  const parent = new Map<number, number>()
  for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id)
  const times: Array<number> = []
  let t = p.startTime
  for (const d of p.timeDeltas) times.push((t += d))
  const ownerOf = new Map<number, string>()
  const appOwner = (id: number) => {
    const hit = ownerOf.get(id)
    if (hit !== undefined) return hit
    // The innermost frame of the app's own code (src/) on this sample's stack.
    let cur: number | undefined = id
    let owner = "(no app frame on the stack: event loop, timers, library callbacks)"
    while (cur !== undefined) {
      const f: CallFrame | undefined = byId.get(cur)?.callFrame
      if (f !== undefined && /\/work\/main\/src\//.test(f.url)) {
        owner = sourceLabel(f)
        break
      }
      cur = parent.get(cur)
    }
    ownerOf.set(id, owner)
    return owner
  }
  // Native and Node-internal frames (syscalls, socket writes, JSON) are charged to the nearest
  // library or app frame that called them: PGlite's file I/O is the database's, a socket write
  // under ioredis is Redis traffic.
  const componentMemo = new Map<number, string>()
  const componentOfSample = (id: number): string => {
    const hit = componentMemo.get(id)
    if (hit !== undefined) return hit
    const own = componentOf(byId.get(id)!.callFrame)
    let c = own
    if (own.startsWith("native:") || own.startsWith("node:")) {
      let cur = parent.get(id)
      while (cur !== undefined) {
        const up = componentOf(byId.get(cur)!.callFrame)
        if (!(up.startsWith("native:") || up.startsWith("node:") || up.startsWith("(program"))) {
          c = `${up} ← ${own.replace(/^native: |^node: /, "")}`
          break
        }
        cur = parent.get(cur)
      }
    }
    componentMemo.set(id, c)
    return c
  }
  const summarize = (lbl: string, keep: (ts: number) => boolean, wallUs: number, items?: number, cpuSeconds?: number): ProfileSummary => {
    const comp = new Map<string, number>()
    const rolled = new Map<string, number>()
    const fn = new Map<string, number>()
    const appFrame = new Map<string, number>()
    let busy = 0
    let total = 0
    p.samples.forEach((id, i) => {
      if (!keep(times[i]!)) return
      const us = p.timeDeltas[i] ?? 0
      const node = byId.get(id)
      if (node === undefined) return
      total += us
      const c = componentOfSample(id)
      comp.set(c, (comp.get(c) ?? 0) + us)
      const r = c.split(" ← ")[0]!
      rolled.set(r, (rolled.get(r) ?? 0) + us)
      if (c === "idle") return
      busy += us
      fn.set(label(node.callFrame), (fn.get(label(node.callFrame)) ?? 0) + us)
      const o = appOwner(id)
      appFrame.set(o, (appFrame.get(o) ?? 0) + us)
    })
    // Samples are taken on wall time, so a thread waiting for a core still counts as busy; the CPU
    // actually used (from /proc) is split in the proportions of the busy samples instead.
    const cpuUsPerItem = items !== undefined && cpuSeconds !== undefined && items > 0 ? (cpuSeconds * 1e6) / items : undefined
    const perItem = (xs: Array<Share>, m: Map<string, number>) =>
      cpuUsPerItem === undefined ? xs : xs.map((x) => (x.name === "idle" ? x : { ...x, cpuUsPerItem: Math.round((10 * cpuUsPerItem * (m.get(x.name) ?? 0)) / Math.max(1, busy)) / 10 }))
    return {
      label: lbl, wallSeconds: wallUs / 1e6, busySeconds: busy / 1e6,
      ...(items === undefined ? {} : { items }), ...(cpuUsPerItem === undefined ? {} : { cpuUsPerItem }),
      byComponent: perItem(top(rolled, total, 16), rolled), byComponentDetail: perItem(top(comp, total, 24), comp),
      topFunctions: perItem(top(fn, total, n), fn), byAppFrame: perItem(top(appFrame, total, 15), appFrame)
    }
  }
  const out = [summarize(`whole service run (${file.split("/").pop()})`, () => true, p.endTime - p.startTime)]
  for (const lbl of [...new Set(windows.map((w) => w.label))]) {
    const ws = windows.filter((w) => w.label === lbl)
    const sum = (f: (w: Window) => number | undefined) => (ws.every((w) => f(w) !== undefined) ? ws.reduce((a, w) => a + f(w)!, 0) : undefined)
    out.push(summarize(lbl, (ts) => ws.some((w) => ts >= w.startUs && ts <= w.endUs), ws.reduce((a, w) => a + (w.endUs - w.startUs), 0), sum((w) => w.items), sum((w) => w.cpuSeconds)))
  }
  return out
}

export const printProfile = (s: ProfileSummary, full = true) => {
  const rows = (title: string, xs: ReadonlyArray<Share>) => {
    console.log(`\n  ${title}`)
    for (const x of xs) {
      const per = x.cpuUsPerItem === undefined ? "" : `${x.cpuUsPerItem.toFixed(1).padStart(7)} µs/item`
      console.log(`    ${x.percent.toFixed(1).padStart(5)} %  ${String(x.ms).padStart(9)} ms ${per}  ${x.name}`)
    }
  }
  const per = s.cpuUsPerItem === undefined ? "" : `; ${s.items} items, ${s.cpuUsPerItem.toFixed(1)} µs of service CPU per item`
  console.log(`\nCPU profile — ${s.label}: ${s.wallSeconds.toFixed(1)} s wall, ${s.busySeconds.toFixed(1)} s busy on the main thread${per}`)
  rows("self time by component, native work charged to its caller (percent of the samples, idle included)", full ? s.byComponent : s.byComponent.slice(0, 10))
  if (!full) return
  rows("the same in detail (X ← native work X called)", s.byComponentDetail.slice(0, 16))
  rows("hottest functions (self time)", s.topFunctions)
  rows("innermost app frame on the stack (which path paid)", s.byAppFrame)
}

if (process.argv[1] !== undefined && /profile\.ts$/.test(process.argv[1])) {
  for (const f of process.argv.slice(2)) for (const x of summarizeProfile(f)) printProfile(x)
}
