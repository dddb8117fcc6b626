/**
 * `npm run web:build [-- --force]`: builds the console (web/) into web/dist with Vite, only when its
 * inputs changed since the last build (a hash of web/, src/domain and package-lock.json, kept in
 * web/dist/.build.json). Runs before `npm start` and in the browser tests' setup. Prints the build time
 * and the first page load's JavaScript gzipped, and fails above the 300 KB budget.
 */
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { gzipSync } from "node:zlib"

const root = fileURLToPath(new URL("..", import.meta.url))
export const webDir = join(root, "web")
export const distDir = join(webDir, "dist")
const stampFile = join(distDir, ".build.json")
const lockDir = join(webDir, ".build-lock")
export const FIRST_LOAD_BUDGET_BYTES = 300 * 1024

export interface BuildInfo {
  readonly inputs: string
  readonly builtAt: string
  readonly seconds: number
  /** The entry script and the modules index.html preloads, gzipped. */
  readonly firstLoadJsGzipBytes: number
  /** Every script of the build, lazily loaded pages included, gzipped. */
  readonly allJsGzipBytes: number
  readonly cssGzipBytes: number
}

const files = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name)
    if (e.isDirectory()) return e.name === "dist" || e.name === "node_modules" || e.name.startsWith(".") ? [] : files(p)
    return [p]
  })

/** A hash of everything the build reads (mtimes change on checkout; contents do not). */
export const inputsHash = (): string => {
  const h = createHash("sha256")
  for (const f of [...files(webDir), ...files(join(root, "src", "domain")), join(root, "package-lock.json")].sort()) {
    h.update(relative(root, f)).update("\0").update(readFileSync(f)).update("\0")
  }
  return h.digest("hex")
}

const readStamp = (): BuildInfo | undefined => {
  try {
    return JSON.parse(readFileSync(stampFile, "utf8")) as BuildInfo
  } catch {
    return undefined
  }
}

const gz = (file: string) => gzipSync(readFileSync(file), { level: 9 }).length

/** Sizes from the built index.html: the scripts a first visit fetches before anything renders. */
export const measure = () => {
  const html = readFileSync(join(distDir, "index.html"), "utf8")
  const firstLoad = [...html.matchAll(/<(?:script[^>]*\ssrc|link[^>]*rel="modulepreload"[^>]*\shref)="\/([^"]+\.js)"/g)].map((m) => m[1]!)
  const assets = files(join(distDir, "assets"))
  return {
    firstLoadJsGzipBytes: firstLoad.reduce((n, f) => n + gz(join(distDir, f)), 0),
    allJsGzipBytes: assets.filter((f) => f.endsWith(".js")).reduce((n, f) => n + gz(f), 0),
    cssGzipBytes: assets.filter((f) => f.endsWith(".css")).reduce((n, f) => n + gz(f), 0)
  }
}

const kb = (b: number) => `${(b / 1024).toFixed(1)} KB`
export const describe = (b: BuildInfo) =>
  `first-load JS ${kb(b.firstLoadJsGzipBytes)} gzipped (budget ${kb(FIRST_LOAD_BUDGET_BYTES)}), all JS ${kb(b.allJsGzipBytes)}, CSS ${kb(b.cssGzipBytes)}`

/** One build at a time across processes (test files start in parallel): a lock directory. */
const withLock = async <A>(f: () => Promise<A>): Promise<A> => {
  for (;;) {
    try {
      mkdirSync(lockDir)
      break
    } catch {
      // A lock left by a killed build is stale after 5 minutes.
      if (existsSync(lockDir) && Date.now() - statSync(lockDir).mtimeMs > 300_000) rmSync(lockDir, { recursive: true, force: true })
      await new Promise((r) => setTimeout(r, 200))
    }
  }
  try {
    return await f()
  } finally {
    rmSync(lockDir, { recursive: true, force: true })
  }
}

/** Builds web/dist unless it is already built from the current inputs. */
export const ensureWebBuilt = (options: { readonly force?: boolean; readonly log?: (line: string) => void } = {}) =>
  withLock(async (): Promise<{ readonly built: boolean; readonly info: BuildInfo }> => {
    const log = options.log ?? ((line: string) => console.log(line))
    const inputs = inputsHash()
    const stamp = readStamp()
    if (options.force !== true && stamp?.inputs === inputs && existsSync(join(distDir, "index.html"))) return { built: false, info: stamp }
    const { build } = await import("vite")
    const t0 = performance.now()
    await build({ configFile: join(webDir, "vite.config.ts"), root: webDir, logLevel: "warn" })
    const info: BuildInfo = { inputs, builtAt: new Date().toISOString(), seconds: (performance.now() - t0) / 1000, ...measure() }
    writeFileSync(stampFile, `${JSON.stringify(info, null, 2)}\n`)
    log(`console built into web/dist in ${info.seconds.toFixed(1)} s: ${describe(info)}`)
    if (info.firstLoadJsGzipBytes > FIRST_LOAD_BUDGET_BYTES) throw new Error(`the console's first-load JavaScript is over budget: ${describe(info)}`)
    return { built: true, info }
  })

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  ensureWebBuilt({ force: process.argv.includes("--force") }).then(
    ({ built, info }) => {
      if (!built) console.log(`console up to date (web/dist, built ${info.builtAt}): ${describe(info)}`)
    },
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : String(e))
      process.exit(1)
    }
  )
}
