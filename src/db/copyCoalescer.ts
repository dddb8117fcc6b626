import { Deferred, Effect, Exit, FiberId, FiberRef } from "effect"
import { DbError } from "./client.ts"
import { DbCost, DbLane } from "./fairGate.ts"

/** Sends one `COPY table (columns) FROM STDIN` of the parts' rows (COPY's text format), in order, without joining them. */
export type CopyRun = (table: string, columns: ReadonlyArray<string>, parts: ReadonlyArray<Buffer>) => Effect.Effect<void, DbError>

export interface CoalescerOptions {
  /** COPYs of one table and column list running at once; the others wait and are merged. */
  readonly maxInFlight: number
  /** Bytes of COPY text one merged statement takes at most (a single larger COPY goes alone). */
  readonly maxBytes: number
}

interface Part {
  readonly data: Buffer
  /** The caller's lane and cost at the database's fair gate (src/db/fairGate.ts). */
  readonly lane: string
  readonly cost: number
  /**
   * "waiting" in the queue; "promoted": handed a slot, its fiber not yet leading; "led": its fiber runs
   * (or ran) a statement, or it was taken into another leader's.
   */
  state: "waiting" | "promoted" | "led"
  /** Completed once: "lead" when handed a slot, else the part's own result. */
  readonly wake: Deferred.Deferred<"lead" | "done", DbError>
  /** The part's result, for a part that led before its rows were settled. */
  readonly result: Deferred.Deferred<void, DbError>
}

interface Group {
  readonly waiting: Array<Part>
  inFlight: number
}

/**
 * Group commit for COPY (a TimescaleDB server's pool, src/db/pgPool.ts): the ingest stage's jobs each
 * COPY their own few hundred rows, and on a server a statement of 500 spans costs ~30 µs of database CPU
 * per span where one large COPY of the same rows costs ~21 (statement start, the chunk's insert state, its
 * commit), and ~39 with four of them at once (bench/results/2026-12-03-stop34.txt). Here at most
 * `maxInFlight` COPYs of one table and column list run; the rows asked for meanwhile wait and go together
 * as the next statement (the rows carry their tenant, so any jobs' rows can share one), up to `maxBytes`.
 *
 * No fiber of its own: the caller that finds a free slot runs the statement (the leader), and hands the
 * slot on to the oldest waiting caller when it is done. Each caller's effect ends when its rows are
 * committed, as a COPY of its own would: a merged statement that fails (a row already stored, which COPY
 * does not skip) is sent again part by part, so that only the part holding that row fails, and its caller
 * takes its fallback (src/ingest/persist.ts, copyOrInsert).
 */
export const makeCopyCoalescer = (run: CopyRun, options: CoalescerOptions) => {
  const groups = new Map<string, Group>()

  /** The slot goes to the oldest waiting part not yet handed one, or is freed. */
  const handOn = (key: string, group: Group) => {
    const next = group.waiting.find((p) => p.state === "waiting")
    if (next === undefined) {
      group.inFlight--
      if (group.inFlight === 0 && group.waiting.length === 0) groups.delete(key)
      return
    }
    // It stays in the queue, at its head: its own rows go in the statement it runs.
    next.state = "promoted"
    Deferred.unsafeDone(next.wake, Exit.succeed("lead"))
  }

  const settle = (part: Part, exit: Exit.Exit<void, DbError>) => {
    Deferred.unsafeDone(part.wake, Exit.isSuccess(exit) ? Exit.succeed("done" as const) : Exit.failCause(exit.cause))
    Deferred.unsafeDone(part.result, exit)
  }

  /**
   * One statement of the leader's own part (unless another statement took it) and the oldest waiting
   * parts; each taken part is settled before it ends.
   */
  const lead = (key: string, group: Group, table: string, columns: ReadonlyArray<string>, own: Part) =>
    Effect.uninterruptibleMask((restore) => {
      const taken: Array<Part> = []
      let bytes = 0
      const i = group.waiting.indexOf(own)
      if (i >= 0) {
        group.waiting.splice(i, 1)
        taken.push(own)
        bytes += own.data.length
      }
      while (group.waiting.length > 0) {
        const p = group.waiting[0]!
        if (taken.length > 0 && bytes + p.data.length > options.maxBytes) break
        group.waiting.shift()
        p.state = "led"
        taken.push(p)
        bytes += p.data.length
      }
      const cost = taken.reduce((n, p) => n + p.cost, 0)
      const alone = (p: Part) =>
        Effect.exit(run(table, columns, [p.data]).pipe(Effect.locally(DbCost, p.cost), Effect.locally(DbLane, p.lane))).pipe(Effect.map((exit) => settle(p, exit)))
      const statement: Effect.Effect<void> = taken.length === 0
        ? Effect.void
        : taken.length === 1
        ? alone(taken[0]!)
        // Several tenants' rows: the service's own lane at the gate, weighed as all of them (no tenant pays for another's).
        : Effect.exit(run(table, columns, taken.map((p) => p.data)).pipe(Effect.locally(DbCost, cost), Effect.locally(DbLane, ""))).pipe(
          Effect.flatMap((exit) =>
            Exit.isSuccess(exit)
              ? Effect.sync(() => {
                for (const p of taken) settle(p, exit)
              })
              : Effect.forEach(taken, alone, { discard: true })
          )
        )
      return restore(statement).pipe(
        // Interrupted (the leader's job cancelled, the process stopping): the parts not yet settled fail,
        // as their own interrupted COPY would have, and their callers fall back or retry.
        Effect.onExit(() =>
          Effect.sync(() => {
            const interrupted = Exit.fail(new DbError({ cause: new Error("the COPY these rows were merged into was interrupted") }))
            for (const p of taken) settle(p, interrupted)
            handOn(key, group)
          })
        )
      )
    })

  return (table: string, columns: ReadonlyArray<string>, data: Buffer): Effect.Effect<void, DbError> =>
    Effect.flatMap(Effect.zip(FiberRef.get(DbLane), FiberRef.get(DbCost)), ([lane, cost]) =>
      Effect.suspend(() => {
        const key = `${table}(${columns.join(",")})`
        let group = groups.get(key)
        if (group === undefined) groups.set(key, (group = { waiting: [], inFlight: 0 }))
        const g = group
        const part: Part = { data, lane, cost, state: "waiting", wake: Deferred.unsafeMake(FiberId.none), result: Deferred.unsafeMake(FiberId.none) }
        g.waiting.push(part)
        const leadThenAwait = Effect.suspend(() => {
          part.state = "led"
          return Effect.zipRight(lead(key, g, table, columns, part), Deferred.await(part.result))
        })
        // A free slot: this caller leads at once; else it waits to be handed one, or for its rows to be settled.
        let first: Effect.Effect<"lead" | "done", DbError>
        if (g.inFlight < options.maxInFlight) {
          g.inFlight++
          part.state = "promoted"
          first = Effect.succeed("lead")
        } else first = Deferred.await(part.wake)
        return first.pipe(
          Effect.flatMap((o) => (o === "done" ? Effect.void : leadThenAwait)),
          Effect.onInterrupt(() =>
            Effect.sync(() => {
              // Not taken yet: it leaves the queue; handed a slot it will not use: the slot goes on.
              const i = g.waiting.indexOf(part)
              if (i >= 0) g.waiting.splice(i, 1)
              if (part.state === "promoted") {
                part.state = "led"
                handOn(key, g)
              }
            })
          )
        )
      })
    )
}
