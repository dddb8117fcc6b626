import { Effect, FiberRef } from "effect"

/**
 * Whose work a statement is: the tenant of the job or request that runs it ("" for the service's own
 * work). Set once around a job (src/queues/Queues.ts sets it from the job's tenant); forked fibers inherit it.
 */
export const DbLane = FiberRef.unsafeMake("")

/** What a statement costs its lane, in rows written (1 for one that writes a row or none). */
export const DbCost = FiberRef.unsafeMake(1)

export const inLane = (lane: string) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.locally(effect, DbLane, lane)

export const costing = (rows: number) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.locally(effect, DbCost, Math.max(1, rows))

/** Rows a lane may have run per turn: a few hundred rows is a few milliseconds of the embedded database. */
export const QUANTUM = 500

interface Lane<T> {
  readonly key: string
  readonly queue: Array<{ readonly cost: number; readonly item: T }>
  deficit: number
}

/**
 * Deficit round robin over lanes (Shreedhar & Varghese): each turn a lane with waiting work earns
 * `quantum` and runs its waiting items in order while their cost fits; an idle lane keeps no credit.
 * A lane that starts waiting joins the end of the round, so a one-row statement waits for at most one
 * turn of every other busy lane, never for their whole backlog.
 */
export const makeDrr = <T>(quantum = QUANTUM) => {
  const lanes = new Map<string, Lane<T>>()
  const ring: Array<Lane<T>> = []
  let at = 0
  let credited = false

  const drop = (i: number) => {
    const lane = ring[i]
    if (lane === undefined) return
    ring.splice(i, 1)
    lanes.delete(lane.key)
    if (i < at) at--
    else if (i === at) credited = false
    if (at >= ring.length) at = 0
  }

  return {
    push: (key: string, cost: number, item: T) => {
      let lane = lanes.get(key)
      if (lane === undefined) {
        lane = { key, queue: [], deficit: 0 }
        lanes.set(key, lane)
        ring.push(lane)
      }
      lane.queue.push({ cost: Math.max(1, cost), item })
    },
    next: (): T | undefined => {
      for (;;) {
        const lane = ring[at]
        if (lane === undefined) return undefined
        if (!credited) {
          lane.deficit += quantum
          credited = true
        }
        const head = lane.queue[0]
        if (head !== undefined && head.cost <= lane.deficit) {
          lane.deficit -= head.cost
          lane.queue.shift()
          if (lane.queue.length === 0) drop(at)
          return head.item
        }
        if (head === undefined) drop(at)
        else {
          at = (at + 1) % ring.length
          credited = false
        }
      }
    },
    /** Takes a waiting item out (its requester gave up); false if it was not waiting. */
    remove: (item: T): boolean => {
      for (let i = 0; i < ring.length; i++) {
        const q = ring[i]?.queue ?? []
        const k = q.findIndex((x) => x.item === item)
        if (k < 0) continue
        q.splice(k, 1)
        if (q.length === 0) drop(i)
        return true
      }
      return false
    },
    get size() {
      let n = 0
      for (const l of ring) n += l.queue.length
      return n
    }
  }
}

/**
 * Whether two tenants' lanes asked for a one-statement-at-a-time database (the embedded one) within
 * the last second. The inserts then go in smaller statements (src/ingest/persist.ts): a statement
 * that is running cannot be pre-empted, so its size is what another tenant's one-row insert may wait.
 * The service's own lane ("") does not count: a single tenant keeps the large statements.
 */
export const makeContention = (windowMs = 1000, now: () => number = Date.now) => {
  // The last two distinct tenant lanes seen, newest first.
  let a = { lane: "", at: Number.NEGATIVE_INFINITY }
  let b = { lane: "", at: Number.NEGATIVE_INFINITY }
  return {
    note: (lane: string) => {
      if (lane === "") return
      const at = now()
      if (lane === a.lane) a = { lane, at }
      else {
        b = a
        a = { lane, at }
      }
    },
    contended: (): boolean => b.lane !== "" && now() - b.at < windowMs
  }
}

/** The process's one signal, noted by the embedded database's gate. */
export const statementContention = makeContention()

interface Entry {
  readonly exclusive: boolean
  readonly grant: () => void
}

/**
 * A shared/exclusive gate in front of a database, fair between lanes: up to `maxShared` statements at
 * once, or one exclusive holder (a transaction). Waiting requests are handed the next free slot by
 * deficit round robin over their lanes (DbLane, weighed by DbCost), so a tenant with many large
 * statements waiting does not make another tenant's one-row insert wait behind all of them. An
 * exclusive request chosen by the round waits for the shared holders to finish and stops new ones.
 */
export const makeFairGate = (maxShared: number, quantum = QUANTUM, contention?: { readonly note: (lane: string) => void }) => {
  let shared = 0
  let exclusive = false
  let chosenExclusive: Entry | undefined
  const waiting = makeDrr<Entry>(quantum)
  const pump = () => {
    while (!exclusive) {
      if (chosenExclusive !== undefined) {
        if (shared > 0) return
        const e = chosenExclusive
        chosenExclusive = undefined
        exclusive = true
        e.grant()
        return
      }
      if (shared >= maxShared) return
      const next = waiting.next()
      if (next === undefined) return
      if (next.exclusive) chosenExclusive = next
      else {
        shared++
        next.grant()
      }
    }
  }
  const acquire = (ex: boolean) =>
    Effect.flatMap(Effect.zip(FiberRef.get(DbLane), FiberRef.get(DbCost)), ([lane, cost]) =>
      Effect.async<void>((resume) => {
        contention?.note(lane)
        const entry: Entry = { exclusive: ex, grant: () => resume(Effect.void) }
        waiting.push(lane, cost, entry)
        pump()
        // Interrupted while waiting (never after the grant: a resumed callback is not cancelled).
        return Effect.sync(() => {
          if (chosenExclusive === entry) chosenExclusive = undefined
          else waiting.remove(entry)
          pump()
        })
      }))
  const release = (ex: boolean) =>
    Effect.sync(() => {
      if (ex) exclusive = false
      else shared--
      pump()
    })
  return <A, E, R>(ex: boolean, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.uninterruptibleMask((restore) => Effect.zipRight(restore(acquire(ex)), Effect.ensuring(restore(effect), release(ex))))
}

