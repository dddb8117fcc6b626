import { HttpApiBuilder, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import { createHash } from "node:crypto"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { extname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { gzipSync } from "node:zlib"
import { CONSOLE_PAGES, NEGOTIATED_PAGES } from "../domain/consolePaths.ts"

// The web console (web/dist, built by scripts/buildWeb.ts): hashed assets cached for a year, index.html
// revalidated every time (it names the current assets), index.html for every console page so a reload
// or a pasted URL works (the SPA fallback), and a Content-Security-Policy that lets the page load and
// call nothing but this origin (the machines it runs on have no internet; nothing is fetched from a CDN).

export const DIST_DIR = fileURLToPath(new URL("../../web/dist", import.meta.url))

export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'"
].join("; ")

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".json": "application/json",
  ".woff2": "font/woff2"
}
const COMPRESSIBLE = new Set([".html", ".js", ".css", ".svg", ".json"])

interface Asset {
  readonly body: Uint8Array
  readonly gzip: Uint8Array | null
  readonly type: string
  readonly etag: string
}

const walk = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : e.name.startsWith(".") ? [] : [join(dir, e.name)]))

/** Every file of the build, in memory (about 400 KB), gzipped once at start rather than per request. */
const load = (dir: string): ReadonlyMap<string, Asset> => {
  if (!existsSync(join(dir, "index.html"))) return new Map()
  return new Map(
    walk(dir).map((file) => {
      const body = readFileSync(file)
      const ext = extname(file)
      const gzip = COMPRESSIBLE.has(ext) && body.length > 512 ? gzipSync(body) : null
      const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`
      return [`/${relative(dir, file).split("\\").join("/")}`, { body, gzip, type: TYPES[ext] ?? "application/octet-stream", etag }] as const
    })
  )
}

const notBuilt = HttpServerResponse.text(
  "<!doctype html><title>MPLP Trace</title><p>The web console is not built: run <code>npm run web:build</code> (npm start builds it).</p>",
  { status: 503, contentType: "text/html; charset=utf-8", headers: { "cache-control": "no-store", "content-security-policy": CSP } }
)

export class ConsoleAssets extends Effect.Service<ConsoleAssets>()("api/ConsoleAssets", {
  sync: () => {
    const files = load(DIST_DIR)
    const respond = (request: HttpServerRequest.HttpServerRequest, path: string, cacheControl: string) => {
      const asset = files.get(path)
      if (asset === undefined) return path === "/index.html" ? notBuilt : HttpServerResponse.empty({ status: 404 })
      const headers: Record<string, string> = {
        "cache-control": cacheControl,
        etag: asset.etag,
        vary: "accept-encoding",
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        ...(asset.type.startsWith("text/html") ? { "content-security-policy": CSP } : {})
      }
      if (request.headers["if-none-match"] === asset.etag) return HttpServerResponse.empty({ status: 304, headers })
      const gzip = asset.gzip !== null && /\bgzip\b/.test(request.headers["accept-encoding"] ?? "")
      return HttpServerResponse.uint8Array(gzip ? asset.gzip! : asset.body, {
        contentType: asset.type,
        headers: gzip ? { ...headers, "content-encoding": "gzip" } : headers
      })
    }
    return {
      built: files.size > 0,
      /** The console page (index.html): always revalidated, it names the current hashed assets. */
      page: (request: HttpServerRequest.HttpServerRequest) => respond(request, "/index.html", "no-cache"),
      /** A file under /assets: its name carries its content hash, so it never changes. */
      asset: (request: HttpServerRequest.HttpServerRequest) => respond(request, request.url.split("?")[0] ?? "", "public, max-age=31536000, immutable"),
      file: (request: HttpServerRequest.HttpServerRequest, path: string) => respond(request, path, "public, max-age=3600")
    } as const
  }
}) {}

/** A browser asking for a page (Accept: text/html), not a scraper or an API client. */
export const wantsHtml = (request: HttpServerRequest.HttpServerRequest) => /\btext\/html\b/.test(request.headers.accept ?? "")

/** The console's routes beside the API's, on the router HttpApiBuilder serves. */
export const ConsoleRoutes = HttpApiBuilder.Router.use((router) =>
  Effect.gen(function* () {
    const assets = yield* ConsoleAssets
    const page = Effect.map(HttpServerRequest.HttpServerRequest, assets.page)
    for (const path of Object.values(CONSOLE_PAGES)) {
      if (!NEGOTIATED_PAGES.includes(path)) yield* router.get(path, page)
    }
    yield* router.get("/assets/*", Effect.map(HttpServerRequest.HttpServerRequest, assets.asset))
    yield* router.get("/favicon.svg", Effect.map(HttpServerRequest.HttpServerRequest, (r) => assets.file(r, "/favicon.svg")))
  })
)
