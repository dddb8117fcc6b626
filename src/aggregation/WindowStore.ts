import { Context, Effect, Layer } from "effect"
import { RedisConnection } from "../queues/Redis.ts"

// Durable window state in Redis, so a killed worker loses nothing and two workers agree:
//   P:wp:<tenant>:<series>:<start>  hash: one field per source batch (its partial aggregate, written
//                                   once: HSETNX makes a redelivered batch a no-op), __meta, __closed
//   P:open:<tenant>                 zset of open windows, scored by window end
//   P:wm:<tenant>                   the tenant's latest event time (only ever grows)
//   P:open-tenants                  tenants with open windows, for the idle sweeper
// Adding a partial and closing a window are each one script on the window's hash, so a partial is
// either part of the close or sees the window closed (and is handled as late).

const ADD = `
local closed = redis.call('HGET', KEYS[1], '__closed')
local existed = redis.call('HSETNX', KEYS[1], '__meta', ARGV[3]) == 0
local added = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
if not closed then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
  redis.call('SADD', KEYS[3], ARGV[7])
end
return {closed and 1 or 0, added, existed and 1 or 0}`

const CLOSE = `
redis.call('HSET', KEYS[1], '__closed', '1')
return redis.call('HGETALL', KEYS[1])`

const WATERMARK = `
local cur = redis.call('GET', KEYS[1])
if (not cur) or tonumber(ARGV[1]) > tonumber(cur) then redis.call('SET', KEYS[1], ARGV[1]) return ARGV[1] end
return cur`

const FORGET_TENANT = `
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[1]) return 1 end
return 0`

/** Partials stay this long after a window closes, for late corrections. */
const RETAIN_MS = 2 * 24 * 3600 * 1000

export interface AddResult {
  /** The window was already closed: this partial is late. */
  readonly closed: boolean
  /** This batch's partial was new (not a redelivery). */
  readonly added: boolean
  /** The window had been opened before this partial. */
  readonly existed: boolean
}

const makeStore = Effect.gen(function* () {
  const redis = yield* RedisConnection
  const r = redis.client
  const p = `{${redis.prefix}}`
  const hashKey = (tenantId: string, seriesKey: string, startMs: number) => `${p}:wp:${tenantId}:${seriesKey}:${startMs}`
  const openKey = (tenantId: string) => `${p}:open:${tenantId}`
  const member = (seriesKey: string, startMs: number) => `${startMs}|${seriesKey}`
  const call = <A>(f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: (e) => (e instanceof Error ? e : new Error(String(e))) })

  const addPartials = Effect.fn("WindowStore.addPartials")(function* (
    tenantId: string,
    sourceJobId: string,
    partials: ReadonlyArray<{ seriesKey: string; windowStartMs: number; windowEndMs: number; agg: unknown; meta: unknown }>
  ) {
    return yield* call(async () => {
      const pipe = r.pipeline()
      for (const x of partials) {
        pipe.eval(ADD, 3, hashKey(tenantId, x.seriesKey, x.windowStartMs), openKey(tenantId), `${p}:open-tenants`,
          sourceJobId, JSON.stringify(x.agg), JSON.stringify(x.meta), x.windowEndMs, member(x.seriesKey, x.windowStartMs), RETAIN_MS, tenantId)
      }
      const out = (await pipe.exec()) ?? []
      return out.map(([err, res]): AddResult => {
        if (err !== null) throw err
        const [closed, added, existed] = res as [number, number, number]
        return { closed: closed === 1, added: added === 1, existed: existed === 1 }
      })
    })
  })

  const advanceWatermark = Effect.fn("WindowStore.advanceWatermark")(function* (tenantId: string, eventTimeMs: number) {
    return Number(yield* call(() => r.eval(WATERMARK, 1, `${p}:wm:${tenantId}`, String(eventTimeMs))))
  })

  const watermarkOf = (tenantId: string) =>
    call(() => r.get(`${p}:wm:${tenantId}`)).pipe(Effect.map((v) => (v === null ? Number.NEGATIVE_INFINITY : Number(v))))

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
    call(() => r.eval(CLOSE, 1, hashKey(tenantId, seriesKey, windowStartMs)) as Promise<Array<string>>).pipe(Effect.map(fields))

  const read = (tenantId: string, seriesKey: string, windowStartMs: number) =>
    call(() => r.hgetall(hashKey(tenantId, seriesKey, windowStartMs))).pipe(
      Effect.map((h) => fields(Object.entries(h).flat()))
    )

  const forgetClosed = (tenantId: string, members: ReadonlyArray<string>) =>
    members.length === 0 ? Effect.void : call(() => r.zrem(openKey(tenantId), ...members)).pipe(Effect.asVoid)

  const openTenants = call(() => r.smembers(`${p}:open-tenants`))
  const forgetTenantIfIdle = (tenantId: string) =>
    call(() => r.eval(FORGET_TENANT, 2, openKey(tenantId), `${p}:open-tenants`, tenantId)).pipe(Effect.asVoid)

  /** One close pass per tenant at a time across processes; a pass that finds the lock taken skips. */
  const withTenantLock = <A, E, R>(tenantId: string, body: Effect.Effect<A, E, R>) =>
    Effect.gen(function* () {
      const key = `${p}:lock:close:${tenantId}`
      const token = `${process.pid}-${Math.random()}`
      const ok = yield* call(() => r.set(key, token, "PX", 30_000, "NX"))
      if (ok !== "OK") return undefined
      return yield* body.pipe(
        Effect.ensuring(
          call(() => r.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, key, token)).pipe(Effect.ignore)
        )
      )
    })

  return { addPartials, advanceWatermark, watermarkOf, due, close, read, forgetClosed, openTenants, forgetTenantIfIdle, withTenantLock } as const
})

const fields = (flat: ReadonlyArray<string>) => {
  const partials: Array<string> = []
  let meta: string | undefined
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const k = flat[i] ?? ""
    const v = flat[i + 1] ?? ""
    if (k === "__meta") meta = v
    else if (!k.startsWith("__")) partials.push(v)
  }
  return { partials, meta }
}

export class WindowStore extends Context.Tag("aggregation/WindowStore")<WindowStore, Effect.Effect.Success<typeof makeStore>>() {
  static readonly Live = Layer.effect(WindowStore, makeStore)
}
