import { Context, Effect, Layer } from "effect"
import { AppConfig } from "../config/AppConfig.ts"
import { RedisConnection } from "../queues/Redis.ts"
import { makeMemoryWindowStore } from "./memoryWindowStore.ts"

// Durable window state in Redis, so a killed worker loses nothing and two workers agree. Keys are in
// the tenant's slot ({P:t:<tenant>}), but for the set of tenants with open windows:
//   {P:t:<tenant>}:wp:<series>:<start>  hash: one field per source batch (its partial aggregate, written
//                                      once: HSETNX makes a redelivered batch a no-op), __meta, __closed
//                                      (__additive: see ADD)
//   {P:t:<tenant>}:open                 zset of open windows, scored by window end
//   {P:t:<tenant>}:wm                   the tenant's latest event time (only ever grows)
//   {P}:open-tenants                    tenants with open windows, for the idle sweeper
// Adding a partial and closing a window are each one script on the window's hash, so a partial is
// either part of the close or sees the window closed (and is handled as late).
// An open window's hash lives until it closes; a closed one only MPLP_WINDOW_RETAIN_SECONDS more (late
// points within it recompute the window exactly from its partials; a redelivered batch finds its field).

// A hash created for a window the watermark had already passed (never opened, or its state expired
// after close) is closed at birth and marked __additive: its late partials are merged into the stored
// row one by one, since the hash does not hold the window's earlier points.
const ADD = `
local closed = redis.call('HGET', KEYS[1], '__closed')
local existed = redis.call('HSETNX', KEYS[1], '__meta', ARGV[3]) == 0
local additive = 0
if not existed and tonumber(ARGV[4]) <= tonumber(ARGV[7]) then
  redis.call('HSET', KEYS[1], '__closed', '1', '__additive', '1')
  closed = '1'
  additive = 1
elseif closed then
  additive = redis.call('HEXISTS', KEYS[1], '__additive')
end
local added = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
if closed then
  redis.call('PEXPIRE', KEYS[1], ARGV[8])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
end
return {closed and 1 or 0, added, existed and 1 or 0, additive}`

const CLOSE = `
redis.call('HSET', KEYS[1], '__closed', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return redis.call('HGETALL', KEYS[1])`

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
  const { windowRetainSeconds } = yield* AppConfig
  const closedRetainMs = windowRetainSeconds * 1000
  const r = redis.client
  const k = redis.keys
  const hashKey = (tenantId: string, seriesKey: string, startMs: number) => k.tenant(tenantId, "wp", seriesKey, startMs)
  const openKey = (tenantId: string) => k.tenant(tenantId, "open")
  const wmKey = (tenantId: string) => k.tenant(tenantId, "wm")
  const openTenantsKey = k.global("open-tenants")
  const member = (seriesKey: string, startMs: number) => `${startMs}|${seriesKey}`
  // The per-partial scripts as ioredis commands: sent as EVALSHA (the script's text once per connection,
  // ioredis reloads it on NOSCRIPT), not EVAL with ~700 bytes of Lua for each of a batch's ~100 partials.
  r.defineCommand("mplpWindowAdd", { numberOfKeys: 2, lua: ADD })
  r.defineCommand("mplpWindowCompact", { numberOfKeys: 1, lua: COMPACT })
  r.defineCommand("mplpWindowClose", { numberOfKeys: 1, lua: CLOSE })
  r.defineCommand("mplpWindowRead", { numberOfKeys: 1, lua: READ })
  type Script = (...args: Array<string | number>) => unknown
  type Scripted = { readonly mplpWindowAdd: Script; readonly mplpWindowCompact: Script; readonly mplpWindowClose: Script; readonly mplpWindowRead: Script }
  const call = <A>(f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: (e) => (e instanceof Error ? e : new Error(String(e))) })

  const addPartials = Effect.fn("WindowStore.addPartials")(function* (
    tenantId: string,
    sourceJobId: string,
    partials: ReadonlyArray<{ seriesKey: string; windowStartMs: number; windowEndMs: number; agg: unknown; meta: unknown }>,
    /** Windows ending at or before this were passed by the watermark (minus lateness) before this batch. */
    lateBeforeMs: number
  ) {
    return yield* call(async () => {
      const pipe = r.pipeline()
      const scripted = pipe as unknown as Scripted
      const lateBefore = Number.isFinite(lateBeforeMs) ? String(lateBeforeMs) : "-1e300"
      for (const x of partials) {
        scripted.mplpWindowAdd(hashKey(tenantId, x.seriesKey, x.windowStartMs), openKey(tenantId),
          sourceJobId, JSON.stringify(x.agg), JSON.stringify(x.meta), x.windowEndMs, member(x.seriesKey, x.windowStartMs), OPEN_RETAIN_MS,
          lateBefore, closedRetainMs)
      }
      // Not in the script: the set is deployment-wide (another slot, maybe another node, in a cluster), so
      // on a cluster it is its own round trip. SADD after the windows' ZADD: forgetTenantIfIdle's check →
      // SREM → check again then cannot drop a tenant whose window was just opened. SADD is idempotent.
      if (!redis.isCluster) pipe.sadd(openTenantsKey, tenantId)
      const out = ((await pipe.exec()) ?? []).slice(0, partials.length)
      if (redis.isCluster) await r.sadd(openTenantsKey, tenantId)
      return out.map(([err, res]): AddResult => {
        if (err !== null) throw err
        const [closed, added, existed, additive] = res as [number, number, number, number]
        return { closed: closed === 1, added: added === 1, existed: existed === 1, additive: additive === 1 }
      })
    })
  })

  const advanceWatermark = Effect.fn("WindowStore.advanceWatermark")(function* (tenantId: string, eventTimeMs: number) {
    return Number(yield* call(() => r.eval(WATERMARK, 1, wmKey(tenantId), String(eventTimeMs))))
  })

  const watermarkOf = (tenantId: string) =>
    call(() => r.get(wmKey(tenantId))).pipe(Effect.map((v) => (v === null ? Number.NEGATIVE_INFINITY : Number(v))))

  /** Open windows whose end is at or before `cutoffMs`, oldest first. */
  const due = Effect.fn("WindowStore.due")(function* (tenantId: string, cutoffMs: number, limit = 5000) {
    const members = yield* call(() => r.zrangebyscore(openKey(tenantId), "-inf", cutoffMs, "LIMIT", 0, limit))
    return members.map((m) => {
      const i = m.indexOf("|")
      return { windowStartMs: Number(m.slice(0, i)), seriesKey: m.slice(i + 1), member: m }
    })
  })

  /** Marks the window closed and returns its partials and meta (also for recomputing a closed one). */
  const close = (tenantId: string, seriesKey: string, windowStartMs: number) =>
    call(() => (r as unknown as Scripted).mplpWindowClose(hashKey(tenantId, seriesKey, windowStartMs), closedRetainMs) as Promise<Array<string>>).pipe(Effect.map(fields))

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
      await r.del(wmKey(tenantId), openKey(tenantId))
      await r.srem(openTenantsKey, tenantId)
    })

  /** One close pass per tenant at a time across processes; a pass that finds the lock taken skips. */
  const withTenantLock = <A, E, R>(tenantId: string, body: Effect.Effect<A, E, R>) =>
    Effect.gen(function* () {
      const key = k.tenant(tenantId, "lock", "close")
      const token = `${process.pid}-${Math.random()}`
      const ok = yield* call(() => r.set(key, token, "PX", 30_000, "NX"))
      if (ok !== "OK") return undefined
      return yield* body.pipe(
        Effect.ensuring(
          call(() => r.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, key, token)).pipe(Effect.ignore)
        )
      )
    })

  return { addPartials, advanceWatermark, watermarkOf, due, close, compact, read, readMany, forgetClosed, openTenants, forgetTenantIfIdle, dropTenant, withTenantLock } as const
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
  static readonly Test = Layer.effect(WindowStore, makeMemoryWindowStore)
}
