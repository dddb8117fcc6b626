/**
 * `npx tsx bench/txTurns.ts [seconds] [rounds]`: what another tenant's one-row insert waits for on the
 * embedded database's thread while one tenant's detect-like transactions hold it (a lock and two reads,
 * some work on this thread, one write: the shape of src/detection/detectRows.ts), with this thread busy
 * 4 ms of every 8 as under load, so that every round trip of a transaction waits for this thread. Two
 * ways to send the same transactions, through the service's client (traced, src/db/Db.ts), in turns
 * (one-by-one, together, versioned, versioned, together, one-by-one per round), `seconds` each (default 10, 3 rounds):
 *  - one-by-one: a statement per round trip, then COMMIT on its own (what the service did before: its
 *    traced client dropped the thread's queryMany);
 *  - together: the reads in one round trip (queryMany), the write sent with the COMMIT (commitWith);
 *  - versioned: what the detect and alert stages do since migrations/0018: the reads with the cursor's
 *    version in a transaction of their own, then the cursor's advance and the write in another, each one
 *    message to the thread (src/db/cursor.ts), so no transaction waits for this thread while it holds
 *    the database; the tenant's passes of this process take turns (oneAtATime), as in DetectStage.
 * Per phase: the insert's p50 / p99 / max, the transactions committed per second, and how long each held
 * the thread (BEGIN to its end).
 */
import { Effect, Fiber } from "effect"
import { performance } from "node:perf_hooks"
import { readFileSync } from "node:fs"
import { advanceCursorStatement, cursorVersionStatement, oneAtATime, readWithVersion, versionOf, withCursor } from "../src/db/cursor.ts"
import { queryInOrder, queryInOrderAndCommit } from "../src/db/Db.ts"
import type { DbClient, Queryable } from "../src/db/Db.ts"
import { makeEmbeddedThread } from "../src/db/embedded.ts"
import { inLane } from "../src/db/fairGate.ts"
import { traced } from "../src/db/traced.ts"

const SECONDS = Number(process.argv[2] ?? 10)
const ROUNDS = Number(process.argv[3] ?? 3)
const SERIES = 200

type Mode = "one-by-one" | "together" | "versioned"

/** The transaction's statements one round trip each, its COMMIT on its own. */
const oneByOne = (tx: Queryable): Queryable => ({ query: tx.query, exec: tx.exec })

const quantile = (xs: ReadonlyArray<number>, q: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN
}

/** This thread busy `busyMs` of every `periodMs` (a loaded service: HTTP parsing, the stages' work). */
const busyLoop = (busyMs: number, periodMs: number) => {
  const timer = setInterval(() => {
    const until = performance.now() + busyMs
    while (performance.now() < until) { /* busy */ }
  }, periodMs)
  return () => clearInterval(timer)
}

const detectLike = (db: DbClient, mode: Mode, round: number) =>
  db.transaction((raw) =>
    Effect.gen(function* () {
      const tx = mode === "together" ? raw : oneByOne(raw)
      const [, windows, states] = yield* queryInOrder(tx, [
        { text: "SELECT pg_advisory_xact_lock(42)" },
        { text: "SELECT k, v FROM w WHERE k < $1 ORDER BY k", values: [SERIES] },
        { text: "SELECT k, s FROM st WHERE k < $1", values: [SERIES] }
      ])
      // The detector's work on this thread: a pass over the windows and states.
      const byKey = new Map((states ?? []).map((r) => [Number(r.k), Number(r.s)]))
      const next = (windows ?? []).map((r) => 0.9 * (byKey.get(Number(r.k)) ?? 0) + 0.1 * Number(r.v) + round)
      yield* queryInOrderAndCommit(tx, [{
        text: `INSERT INTO st (k, s) SELECT * FROM unnest($1::int[], $2::float8[]) ON CONFLICT (k) DO UPDATE SET s = excluded.s`,
        values: [next.map((_, i) => i), next]
      }])
    })
  )

/** The same transactions as the detect stage now runs them: read with the cursor version, write from it, the tenant's passes of this process in turns. */
const turn = oneAtATime()
const versioned = (db: DbClient, round: number) =>
  turn("x", withCursor(Effect.gen(function* () {
    const [version, windows, states] = yield* readWithVersion(db, [
      cursorVersionStatement("x", "detect"),
      { text: "SELECT k, v FROM w WHERE k < $1 ORDER BY k", values: [SERIES] },
      { text: "SELECT k, s FROM st WHERE k < $1", values: [SERIES] }
    ])
    const byKey = new Map((states ?? []).map((r) => [Number(r.k), Number(r.s)]))
    const next = (windows ?? []).map((r) => 0.9 * (byKey.get(Number(r.k)) ?? 0) + 0.1 * Number(r.v) + round)
    yield* db.transaction((tx) => queryInOrderAndCommit(tx, [advanceCursorStatement("x", "detect", versionOf(version)), {
      text: `INSERT INTO st (k, s) SELECT * FROM unnest($1::int[], $2::float8[]) ON CONFLICT (k) DO UPDATE SET s = excluded.s`,
      values: [next.map((_, i) => i), next]
    }]))
  })))

const phase = (db: DbClient, mode: Mode, round: number) =>
  Effect.gen(function* () {
    const until = performance.now() + SECONDS * 1000
    const held: Array<number> = []
    let committed = 0
    const tenantX = Effect.gen(function* () {
      while (performance.now() < until) {
        const t0 = performance.now()
        yield* (mode === "versioned" ? versioned(db, round) : detectLike(db, mode, round))
        held.push(performance.now() - t0)
        committed++
      }
    }).pipe(inLane("x"))
    const waits: Array<number> = []
    let n = 0
    const tenantB = Effect.gen(function* () {
      for (let next = performance.now(); next < until; next += 20) {
        yield* Effect.sleep(Math.max(0, next - performance.now()))
        const t0 = performance.now()
        yield* db.query("INSERT INTO b (n) VALUES ($1)", [n++])
        waits.push(performance.now() - t0)
      }
    }).pipe(inLane("b"))
    const stop = busyLoop(4, 8)
    const fibers = yield* Effect.all([Effect.fork(tenantX), Effect.fork(tenantX), Effect.fork(tenantB)])
    yield* Effect.forEach(fibers, Fiber.join, { discard: true })
    stop()
    return {
      mode, insertP50: quantile(waits, 0.5), insertP99: quantile(waits, 0.99), insertMax: Math.max(...waits),
      txPerSecond: committed / SECONDS, txP50: quantile(held, 0.5), inserts: waits.length
    }
  })

const main = Effect.scoped(Effect.gen(function* () {
  const db = traced(yield* makeEmbeddedThread("memory://"))
  yield* db.exec(`CREATE TABLE w (k int PRIMARY KEY, v float8); CREATE TABLE st (k int PRIMARY KEY, s float8); CREATE TABLE b (n int)`)
  yield* db.query("INSERT INTO w SELECT k, random() FROM generate_series(0, 9999) AS k")
  // The stages' cursor and its advance, as the migrations make them (0002, 0018).
  yield* db.exec("CREATE TABLE pipeline_cursor (tenant_id text, stage text, version bigint NOT NULL DEFAULT 0, PRIMARY KEY (tenant_id, stage))")
  const migration = readFileSync(new URL("../migrations/0018_cursor_version.sql", import.meta.url), "utf8")
  yield* db.exec(migration.slice(migration.indexOf("CREATE FUNCTION")))
  const results: Array<Effect.Effect.Success<ReturnType<typeof phase>>> = []
  for (let r = 0; r < ROUNDS; r++) {
    for (const mode of ["one-by-one", "together", "versioned", "versioned", "together", "one-by-one"] as const) {
      const x = yield* phase(db, mode, r)
      results.push(x)
      console.log(`round ${r + 1} ${mode.padEnd(10)}: insert p50 ${x.insertP50.toFixed(1)} / p99 ${x.insertP99.toFixed(1)} / max ${x.insertMax.toFixed(1)} ms (${x.inserts}); ` +
        `transactions ${x.txPerSecond.toFixed(1)}/s, each ${x.txP50.toFixed(1)} ms (p50, waits included)`)
    }
  }
  for (const mode of ["one-by-one", "together", "versioned"] as const) {
    const of = results.filter((x) => x.mode === mode)
    const med = (f: (x: (typeof of)[number]) => number) => quantile(of.map(f), 0.5).toFixed(1)
    console.log(`${mode.padEnd(10)} medians of ${of.length} phases: insert p50 ${med((x) => x.insertP50)} ms, p99 ${med((x) => x.insertP99)} ms, max ${med((x) => x.insertMax)} ms; transactions ${med((x) => x.txPerSecond)}/s`)
  }
}))

await Effect.runPromise(main)
