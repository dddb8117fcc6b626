import { Context, Effect, Layer } from "effect"
import { AppConfig } from "../config/AppConfig.ts"
import { execAll, RedisConnection } from "../queues/Redis.ts"
import { holdKeys, holdLua } from "./holds.ts"
import { makeMemoryWindowStore } from "./memoryWindowStore.ts"

// Durable window state in Redis, so a killed worker loses nothing and two workers agree. Keys are in
// the tenant's slot ({P:t:<tenant>}), but for the set of tenants with open windows:
//   {P:t:<tenant>}:wp:<series>:<start>  hash: one field per source batch (its partial aggregate, written
//                                      once: HSETNX makes a redelivered batch a no-op), __meta, __closed
//                                      (__additive: see ADD)
//   {P:t:<tenant>}:open                 zset of open windows, scored by window end
//   {P:t:<tenant>}:wm                   the tenant's latest event time (only ever grows)
//   {P}:open-tenants                    tenants with open windows, for the idle sweeper
//   {P:t:<tenant>}:hold-ev, hold-at, closed-through   batches accepted and not yet in (src/aggregation/holds.ts)
// Adding a partial and closing a window are each one script on the window's hash, so a partial is
// either part of the close or sees the window closed (and is handled as late).
// An open window's hash lives until it closes; a closed one only MPLP_WINDOW_RETAIN_SECONDS more (late
// points within it recompute the window exactly from its partials; a redelivered batch finds its field).

// A hash created for a window a close pass had already passed by the watermark (never opened, or its
// state expired after close: its end at or before the tenant's closed-through, KEYS[3]) is closed at
// birth and marked __additive: its late partials are merged into the stored row one by one, since the
// hash does not hold the window's earlier points. Closed-through is the watermark's cutoff as close
// passes actually applied it (held back by holds, see Aggregator.closePass), not the raw watermark: a
// window a batch's hold kept from closing opens normally, however far the watermark moved. (The wall
// clock's cutoff, for quiet tenants, closes open windows but marks nothing: history sent in event-time
// order, each chunk stored before the next, opens its windows and has them closed and evaluated.)
// A close pass sets closed-through (closeThrough) before it reads the due windows, and ADD reads it in the
// same script as it opens the window; so for a partial of window W (end e) of a new hash and a pass whose
// closed-through c ≥ e, either
//   - ADD runs first: W is opened (ZADD) before the pass reads the open set, so the pass closes W with
//     this partial; or
//   - the pass's closeThrough runs first: ADD sees closed-through ≥ e and W is born closed, additive.
// Never a window opened behind a pass that passed it by the watermark without seeing it. (A window the
// pass closes by the wall clock only, ADD after its read: opened, and closed by the next pass.) For an
// existing open hash, ADD before the pass's CLOSE puts the partial in the close; ADD after it finds
// __closed and is late (recomputed). A batch's hold keeps every pass's cutoff, hence closed-through,
// below its earliest event time (or the closed-through at its accept, if that is later: nothing older
// can open anyway) until its ADDs are done, so its partials take the first branch or find their window
// open: not late, not additive.
// One script adds all of a batch's partials (KEYS: open, closed-through, then the window hashes, all in the
// tenant's slot; ARGV: the batch's field, the open and closed TTLs, then per window its partial, meta, end
// and open-set member): one EVALSHA per batch instead of one per window (measured: ~100 partials, 7 → 2 µs
// of client CPU and 5 → 3 µs of Redis CPU per partial). Each window's reply packs closed, added, existed
// and additive as bits 1, 2, 4, 8. Closed-through is read once: no pass can move it inside the script.
const ADD = `
local through = tonumber(redis.call('GET', KEYS[2]) or '-1e300')
local out = {}
for i = 3, #KEYS do
  local key = KEYS[i]
  local a = 4 + (i - 3) * 4
  local closed = redis.call('HGET', key, '__closed')
  local existed = redis.call('HSETNX', key, '__meta', ARGV[a + 1]) == 0
  local additive = 0
  if not existed and tonumber(ARGV[a + 2]) <= through then
    redis.call('HSET', key, '__closed', '1', '__additive', '1')
    closed = '1'
    additive = 1
  elseif closed then
    additive = redis.call('HEXISTS', key, '__additive')
  end
  local added = redis.call('HSETNX', key, ARGV[1], ARGV[a])
  if closed then
    redis.call('PEXPIRE', key, ARGV[3])
  else
    redis.call('PEXPIRE', key, ARGV[2])
    redis.call('ZADD', KEYS[1], ARGV[a + 2], ARGV[a + 3])
  end
  out[#out + 1] = (closed and 1 or 0) + 2 * added + 4 * (existed and 1 or 0) + 8 * additive
end
return out`

// Closes windows (KEYS: their hashes, in the tenant's slot) and returns each one's fields: a close pass's
// due windows in one round trip, not one each.
const CLOSE = `
local out = {}
for i = 1, #KEYS do
  redis.call('HSET', KEYS[i], '__closed', '1')
  redis.call('PEXPIRE', KEYS[i], ARGV[1])
  out[i] = redis.call('HGETALL', KEYS[i])
end
return out`

// A closed window keeps one merged partial instead of one per batch: the batch fields stay, blank,
// so a redelivered batch still finds its field. Only the fields that were merged are blanked (a late
// partial added meanwhile keeps its value), and an expired hash is not brought back without a TTL.
// __rev counts the compactions: a merge made from a read older than the last compaction is not
// written (the close pass and late batches compact without a common lock; the older merge would
// put back a __merged that lacks the newer one's partials).
const COMPACT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if (redis.call('HGET', KEYS[1], '__rev') or '0') ~= ARGV[2] then return 0 end
for i = 3, #ARGV do redis.call('HSET', KEYS[1], ARGV[i], '') end
redis.call('HSET', KEYS[1], '__merged', ARGV[1])
redis.call('HINCRBY', KEYS[1], '__rev', 1)
return 1`

// What a close pass needs to know: the watermark, and the earliest event time held by a batch accepted
// and not yet in (stale holds dropped first: accepted at or before ARGV[1]). KEYS: wm, hold-ev, hold-at.
const CLOSE_INPUTS = `
local stale = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[1], 'LIMIT', 0, 1000)
for i = 1, #stale do redis.call('ZREM', KEYS[2], stale[i]) redis.call('ZREM', KEYS[3], stale[i]) end
local held = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
return {redis.call('GET', KEYS[1]) or false, held[2] or false, #stale}`

// A close pass's watermark cutoff (ARGV[2]) becomes the tenant's closed-through (only ever grows), then
// the windows due by its cutoff (ARGV[1]) are read: in this order (see ADD). KEYS: closed-through, open.
const CLOSE_THROUGH = `
local cur = tonumber(redis.call('GET', KEYS[1]) or '-1e300')
if tonumber(ARGV[2]) > cur then redis.call('SET', KEYS[1], ARGV[2]) end
return redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])`

const HOLD = `${holdLua(1, "ARGV[1]", "ARGV[2]", "ARGV[3]")}
return 1`

// A window's fields without the blank ones: a closed window keeps a blank field per batch it ever had
// (see COMPACT), hundreds of them, which a late batch's recompute would otherwise receive, parse and skip.
const READ = `
local h = redis.call('HGETALL', KEYS[1])
local out = {}
for i = 1, #h, 2 do
  if h[i + 1] ~= '' then
    out[#out + 1] = h[i]
    out[#out + 1] = h[i + 1]
  end
end
return out`

const WATERMARK = `
local cur = redis.call('GET', KEYS[1])
if (not cur) or tonumber(ARGV[1]) > tonumber(cur) then redis.call('SET', KEYS[1], ARGV[1]) return ARGV[1] end
return cur`

/** How often a close pass that waits for the tenant's lock asks for it again. */
const LOCK_POLL_MS = 5

/** Windows per ADD or CLOSE script call: a batch's ~100 in one, a backfill's thousands in a few (Redis runs each alone). */
const SCRIPT_CHUNK = 500

/** An open window's partials stay at most this long (it closes within idleTimeout + lateness, both ≤ a day). */
const OPEN_RETAIN_MS = 2 * 24 * 3600 * 1000

export interface AddResult {
  /** The window was already closed: this partial is late. */
  readonly closed: boolean
  /** This batch's partial was new (not a redelivery). */
  readonly added: boolean
  /** The window had been opened before this partial. */
  readonly existed: boolean
  /** The window's hash does not hold its earlier points: merge this partial into the stored row. */
  readonly additive: boolean
}

const makeStore = Effect.gen(function* () {
  const redis = yield* RedisConnection
  const { windowRetainSeconds, windowHoldSeconds } = yield* AppConfig
  const closedRetainMs = windowRetainSeconds * 1000
  const holdMs = windowHoldSeconds * 1000
  const r = redis.client
  const k = redis.keys
  const hashKey = (tenantId: string, seriesKey: string, startMs: number) => k.tenant(tenantId, "wp", seriesKey, startMs)
  const openKey = (tenantId: string) => k.tenant(tenantId, "open")
  const wmKey = (tenantId: string) => k.tenant(tenantId, "wm")
  const openTenantsKey = k.global("open-tenants")
  const member = (seriesKey: string, startMs: number) => `${startMs}|${seriesKey}`
  // The scripts as ioredis commands: sent as EVALSHA (the script's text once per connection, ioredis
  // reloads it on NOSCRIPT), not EVAL with the Lua's text each time.
  const holds = (tenantId: string) => holdKeys(k, tenantId)
  r.defineCommand("mplpWindowAdd", { lua: ADD })
  r.defineCommand("mplpWatermark", { numberOfKeys: 1, lua: WATERMARK })
  r.defineCommand("mplpCloseInputs", { numberOfKeys: 3, lua: CLOSE_INPUTS })
  r.defineCommand("mplpCloseThrough", { numberOfKeys: 2, lua: CLOSE_THROUGH })
  r.defineCommand("mplpWindowCompact", { numberOfKeys: 1, lua: COMPACT })
  r.defineCommand("mplpWindowClose", { lua: CLOSE })
  r.defineCommand("mplpWindowRead", { numberOfKeys: 1, lua: READ })
  type Script = (...args: Array<string | number>) => unknown
  type Scripted = {
    readonly mplpWindowAdd: Script; readonly mplpWindowCompact: Script; readonly mplpWindowClose: Script
    readonly mplpWatermark: Script; readonly mplpCloseInputs: Script; readonly mplpCloseThrough: Script; readonly mplpWindowRead: Script
  }
  const scripts = r as unknown as Scripted
  const call = <A>(f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: (e) => (e instanceof Error ? e : new Error(String(e))) })

  const addPartials = Effect.fn("WindowStore.addPartials")(function* (
    tenantId: string,
    sourceJobId: string,
    partials: ReadonlyArray<{ seriesKey: string; windowStartMs: number; windowEndMs: number; agg: unknown; meta: unknown }>,
    /** The batch's latest event time: the tenant's watermark advances to it in the same round trip. */
    maxEventTimeMs: number
  ) {
    return yield* call(async () => {
      const pipe = r.pipeline()
      const scripted = pipe as unknown as Scripted
      const h = holds(tenantId)
      const scriptCalls = Math.ceil(partials.length / SCRIPT_CHUNK)
      for (let c = 0; c < partials.length; c += SCRIPT_CHUNK) {
        const chunk = partials.slice(c, c + SCRIPT_CHUNK)
        const keys: Array<string> = [openKey(tenantId), h.closedThrough]
        const args: Array<string | number> = [sourceJobId, OPEN_RETAIN_MS, closedRetainMs]
        for (const x of chunk) {
          keys.push(hashKey(tenantId, x.seriesKey, x.windowStartMs))
          args.push(JSON.stringify(x.agg), JSON.stringify(x.meta), x.windowEndMs, member(x.seriesKey, x.windowStartMs))
        }
        scripted.mplpWindowAdd(keys.length, ...keys, ...args)
      }
      // The batch's partials are in: its hold goes, in the same round trip, after them (a close pass that
      // no longer sees the hold finds them in their windows).
      pipe.zrem(h.events, sourceJobId).zrem(h.accepted, sourceJobId)
      if (Number.isFinite(maxEventTimeMs)) scripted.mplpWatermark(wmKey(tenantId), String(maxEventTimeMs))
      // Not in the script: the set is deployment-wide (another slot, maybe another node, in a cluster), so
      // on a cluster it is its own round trip. SADD after the windows' ZADD: forgetTenantIfIdle's check →
      // SREM → check again then cannot drop a tenant whose window was just opened. SADD is idempotent.
      if (!redis.isCluster) pipe.sadd(openTenantsKey, tenantId)
      // A failed release or watermark fails the job too (its redelivery repeats them, harmlessly).
      const all = await execAll(pipe)
      if (redis.isCluster) await r.sadd(openTenantsKey, tenantId)
      return all.slice(0, scriptCalls).flatMap(([, res]) =>
        (res as Array<number>).map((bits): AddResult => ({
          closed: (bits & 1) !== 0, added: (bits & 2) !== 0, existed: (bits & 4) !== 0, additive: (bits & 8) !== 0
        }))
      )
    })
  })

  const advanceWatermark = Effect.fn("WindowStore.advanceWatermark")(function* (tenantId: string, eventTimeMs: number) {
    return Number(yield* call(() => scripts.mplpWatermark(wmKey(tenantId), String(eventTimeMs)) as Promise<string>))
  })

  /**
   * The tenant's watermark and the earliest event time its held batches may still bring (+∞ if none), in
   * one round trip; holds accepted more than MPLP_WINDOW_HOLD_SECONDS before `nowMs` are dropped first.
   */
  const closeInputs = Effect.fn("WindowStore.closeInputs")(function* (tenantId: string, nowMs: number) {
    const h = holds(tenantId)
    const [wm, held] = yield* call(() => scripts.mplpCloseInputs(wmKey(tenantId), h.events, h.accepted, nowMs - holdMs) as Promise<[string | null, string | null, number]>)
    return {
      maxEventTimeMs: wm === null ? Number.NEGATIVE_INFINITY : Number(wm),
      heldFromMs: held === null ? Number.POSITIVE_INFINITY : Number(held)
    }
  })

  /** Registers a batch's hold (the API does it with the backlog reservation, src/ingest/Backlog.ts). */
  const hold = (tenantId: string, jobId: string, earliestEventMs: number, acceptedAtMs: number) => {
    const h = holds(tenantId)
    return call(() => r.eval(HOLD, 3, h.events, h.accepted, h.closedThrough, jobId, earliestEventMs, acceptedAtMs)).pipe(Effect.asVoid)
  }

  /**
   * Marks the tenant closed through `closedThroughMs` (≤ `cutoffMs`: a window that never opened and ends
   * at or before it is additive from now on, see ADD) and returns the open windows whose end is at or
   * before `cutoffMs`, oldest first.
   */
  const closeThrough = Effect.fn("WindowStore.closeThrough")(function* (tenantId: string, cutoffMs: number, closedThroughMs: number, limit = 5000) {
    const mark = Number.isFinite(closedThroughMs) ? closedThroughMs : -1e300
    const members = yield* call(() => scripts.mplpCloseThrough(holds(tenantId).closedThrough, openKey(tenantId), cutoffMs, mark, limit) as Promise<Array<string>>)
    return members.map((m) => {
      const i = m.indexOf("|")
      return { windowStartMs: Number(m.slice(0, i)), seriesKey: m.slice(i + 1), member: m }
    })
  })

  /** Marks the windows closed and returns their partials and meta (in their order), in one round trip. */
  const closeMany = (tenantId: string, windows: ReadonlyArray<{ seriesKey: string; windowStartMs: number }>) =>
    windows.length === 0
      ? Effect.succeed([])
      : call(async () => {
        const pipe = r.pipeline()
        for (let c = 0; c < windows.length; c += SCRIPT_CHUNK) {
          const keys = windows.slice(c, c + SCRIPT_CHUNK).map((w) => hashKey(tenantId, w.seriesKey, w.windowStartMs))
          ;(pipe as unknown as Scripted).mplpWindowClose(keys.length, ...keys, closedRetainMs)
        }
        return (await execAll(pipe)).flatMap(([, res]) => (res as Array<Array<string>>).map(fields))
      })

  /**
   * Replaces closed windows' batch partials (`names`, read at compaction count `rev`) by their merge (see
   * COMPACT), in one round trip; a window compacted since that read is left as it is.
   */
  const compact = (tenantId: string, windows: ReadonlyArray<Compaction>) =>
    windows.length === 0
      ? Effect.void
      : call(async () => {
        const pipe = r.pipeline()
        for (const w of windows) {
          if (w.names.length > 0) (pipe as unknown as Scripted).mplpWindowCompact(hashKey(tenantId, w.seriesKey, w.windowStartMs), JSON.stringify(w.merged), w.rev, ...w.names)
        }
        await pipe.exec()
      })

  /** Windows' partials and meta (closed ones' too: late points recompute them), in one round trip. */
  const readMany = (tenantId: string, windows: ReadonlyArray<{ seriesKey: string; windowStartMs: number }>) =>
    windows.length === 0
      ? Effect.succeed([])
      : call(async () => {
        const pipe = r.pipeline()
        for (const w of windows) (pipe as unknown as Scripted).mplpWindowRead(hashKey(tenantId, w.seriesKey, w.windowStartMs))
        return ((await pipe.exec()) ?? []).map(([err, flat]) => {
          if (err !== null) throw err
          return fields(flat as Array<string>)
        })
      })

  const read = (tenantId: string, seriesKey: string, windowStartMs: number) =>
    Effect.map(readMany(tenantId, [{ seriesKey, windowStartMs }]), (w) => w[0]!)

  const forgetClosed = (tenantId: string, members: ReadonlyArray<string>) =>
    members.length === 0 ? Effect.void : call(() => r.zrem(openKey(tenantId), ...members)).pipe(Effect.asVoid)

  const openTenants = call(() => r.smembers(openTenantsKey))
  // Two steps, not one script: the tenant's zset and the deployment-wide set are in different slots.
  // A partial added in between re-adds the tenant to the set (addPartials SADDs after its ZADD).
  const forgetTenantIfIdle = (tenantId: string) =>
    call(async () => {
      if ((await r.zcard(openKey(tenantId))) > 0) return
      await r.srem(openTenantsKey, tenantId)
      if ((await r.zcard(openKey(tenantId))) > 0) await r.sadd(openTenantsKey, tenantId)
    })

  /**
   * Drops every window of a tenant the database does not know (a fresh database on a Redis that kept
   * another's state): its open windows, its watermark, and its place in the sweeper's set.
   */
  const dropTenant = (tenantId: string) =>
    call(async () => {
      for (;;) {
        const members = await r.zrange(openKey(tenantId), 0, 999)
        if (members.length === 0) break
        const pipe = r.pipeline()
        for (const m of members) {
          const i = m.indexOf("|")
          pipe.del(hashKey(tenantId, m.slice(i + 1), Number(m.slice(0, i))))
        }
        pipe.zrem(openKey(tenantId), ...members)
        await pipe.exec()
      }
      const h = holds(tenantId)
      await r.del(wmKey(tenantId), openKey(tenantId), h.events, h.accepted, h.closedThrough)
      await r.srem(openTenantsKey, tenantId)
    })

  /** One close pass per tenant at a time across processes; a pass that finds the lock taken skips. */
  const withTenantLock = <A, E, R>(tenantId: string, body: Effect.Effect<A, E, R>, waitMs = 0) =>
    Effect.gen(function* () {
      const key = k.tenant(tenantId, "lock", "close")
      const token = `${process.pid}-${Math.random()}`
      const deadline = Date.now() + waitMs
      let ok = yield* call(() => r.set(key, token, "PX", 30_000, "NX"))
      while (ok !== "OK" && Date.now() < deadline) {
        yield* Effect.sleep(LOCK_POLL_MS)
        ok = yield* call(() => r.set(key, token, "PX", 30_000, "NX"))
      }
      if (ok !== "OK") return undefined
      return yield* body.pipe(
        Effect.ensuring(
          call(() => r.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, key, token)).pipe(Effect.ignore)
        )
      )
    })

  return { addPartials, advanceWatermark, closeInputs, hold, closeThrough, closeMany, compact, read, readMany, forgetClosed, openTenants, forgetTenantIfIdle, dropTenant, withTenantLock } as const
})

/** Closed windows' partials to replace by their merge: the batch fields `names`, read at compaction count `rev`. */
export interface Compaction {
  readonly seriesKey: string
  readonly windowStartMs: number
  readonly merged: unknown
  readonly names: ReadonlyArray<string>
  readonly rev: string
}

/** What a window hash holds (WindowStore's close, read and readMany). */
export interface WindowFields {
  readonly partials: ReadonlyArray<string>
  /** The batch fields whose partials were read (to blank them after a merge). */
  readonly names: ReadonlyArray<string>
  readonly meta: string | undefined
  /** How many compactions the hash had when read ("0": none). */
  readonly rev: string
}

/**
 * A window hash's partials: every batch's field that still holds its partial, and __merged (what a
 * compaction folded); `names` are the batch fields whose partials were read (to blank them after a merge).
 */
const fields = (flat: ReadonlyArray<string>): WindowFields => {
  const partials: Array<string> = []
  const names: Array<string> = []
  let meta: string | undefined
  let rev = "0"
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const k = flat[i] ?? ""
    const v = flat[i + 1] ?? ""
    if (k === "__meta") meta = v
    else if (k === "__rev") rev = v
    else if (k === "__merged") partials.push(v)
    else if (!k.startsWith("__") && v !== "") {
      partials.push(v)
      names.push(k)
    }
  }
  return { partials, names, meta, rev }
}

export class WindowStore extends Context.Tag("aggregation/WindowStore")<WindowStore, Effect.Effect.Success<typeof makeStore>>() {
  static readonly Live = Layer.effect(WindowStore, makeStore)
  /** In memory (src/aggregation/memoryWindowStore.ts): stage logic tests in milliseconds, without Redis. */
  static readonly Test = Layer.effect(WindowStore, makeMemoryWindowStore())
  /** The in-memory twin with another MPLP_WINDOW_HOLD_SECONDS. */
  static readonly testWith = (options: { readonly holdSeconds: number }) => Layer.effect(WindowStore, makeMemoryWindowStore(options.holdSeconds))
}
