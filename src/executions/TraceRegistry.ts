import { Context, Effect, Layer } from "effect"
import { RedisConnection } from "../queues/Redis.ts"
import { makeMemoryTraceRegistry } from "./memoryTraceRegistry.ts"

// Open executions and their idle deadlines, durable in Redis so that an execution whose watcher (the
// tenant actor's timer) was lost with its process is timed out by whoever claims the deadline next:
//   {P:t:<tenant>}:traces    zset traceId → deadline (ms)
//   {P:t:<tenant>}:claimed   zset traceId → end of the claim's lease (ms): claimed, not yet timed out
//   {P}:traces-tenants       tenants with open or claimed executions, for the sweeper
// A claim moves an execution from traces to claimed, which succeeds once; `settle` drops it once it is
// timed out. A claimer that dies in between leaves the claim to lapse, and the next claim after the
// lease takes it again (timing out is idempotent: a status-guarded UPDATE and a keyed alert job).
// The two zsets are in the tenant's slot (a cluster spreads them), the set of tenants is deployment-wide:
// it is updated after the zsets (SADD after ZADD; SREM only when both are empty, checked again after),
// never in the same script. Deadlines written before they moved ({P}:traces:<tenant>) are moved over
// once at start.

/** How long a claimer has to time an execution out before another may claim it again. */
export const CLAIM_LEASE_MS = 30_000

const CLAIM_DUE = `
local claimed = {}
local function take(key, ids)
  for _, id in ipairs(ids) do
    if redis.call('ZREM', key, id) == 1 then
      redis.call('ZADD', KEYS[2], ARGV[3], id)
      table.insert(claimed, id)
    end
  end
end
take(KEYS[2], redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2]))
local room = tonumber(ARGV[2]) - #claimed
if room > 0 then take(KEYS[1], redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, room)) end
return claimed`

const makeRegistry = Effect.gen(function* () {
  const redis = yield* RedisConnection
  const r = redis.client
  const key = (tenantId: string) => redis.keys.tenant(tenantId, "traces")
  const claimedKey = (tenantId: string) => redis.keys.tenant(tenantId, "claimed")
  const tenantsKey = redis.keys.global("traces-tenants")
  const call = <A>(f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: (e) => (e instanceof Error ? e : new Error(String(e))) })
  const isEmpty = async (tenantId: string) => (await r.zcard(key(tenantId))) === 0 && (await r.zcard(claimedKey(tenantId))) === 0

  /** Opens or extends an execution's idle deadline. */
  const touch = (tenantId: string, traceId: string, deadlineMs: number) =>
    call(async () => {
      // One round trip on one server; on a cluster the set may be on another node: one after the other.
      if (!redis.isCluster) return r.multi().zadd(key(tenantId), deadlineMs, traceId).sadd(tenantsKey, tenantId).exec()
      await r.zadd(key(tenantId), deadlineMs, traceId)
      return r.sadd(tenantsKey, tenantId)
    }).pipe(Effect.asVoid)

  /** The execution finished: nobody will time it out. */
  const close = (tenantId: string, traceId: string) => call(() => r.zrem(key(tenantId), traceId)).pipe(Effect.asVoid)

  /** The current deadlines of several executions (undefined where no longer open), a round trip per 1000. */
  const deadlines = (tenantId: string, traceIds: ReadonlyArray<string>) =>
    Effect.forEach(
      Array.from({ length: Math.ceil(traceIds.length / 1000) }, (_, i) => traceIds.slice(i * 1000, i * 1000 + 1000)),
      (ids) => call(() => r.zmscore(key(tenantId), ...ids))
    ).pipe(Effect.map((chunks) => chunks.flat().map((s) => (s === null ? undefined : Number(s)))))

  /**
   * Atomically claims the executions whose deadline is at or before `nowMs`, and those whose earlier
   * claim lapsed by then: each is claimed by one caller per lease. The caller times them out, then
   * settles them. A tenant left with nothing open leaves the sweeper's set (a touch in between puts it back).
   */
  const claimDue = (tenantId: string, nowMs: number, limit = 500, leaseMs = CLAIM_LEASE_MS) =>
    call(async () => {
      const claimed = (await r.eval(CLAIM_DUE, 2, key(tenantId), claimedKey(tenantId), String(nowMs), String(limit), String(nowMs + leaseMs))) as Array<string>
      if (claimed.length === 0 && (await isEmpty(tenantId))) {
        await r.srem(tenantsKey, tenantId)
        if (!(await isEmpty(tenantId))) await r.sadd(tenantsKey, tenantId)
      }
      return claimed
    })

  /** The claimed executions are timed out: nobody claims them again. */
  const settle = (tenantId: string, traceIds: ReadonlyArray<string>) =>
    traceIds.length === 0 ? Effect.void : call(() => r.zrem(claimedKey(tenantId), ...traceIds)).pipe(Effect.asVoid)

  const open = (tenantId: string) => call(() => r.zrange(key(tenantId), 0, -1, "WITHSCORES")).pipe(
    Effect.map((flat) => {
      const out: Array<{ traceId: string; deadlineMs: number }> = []
      for (let i = 0; i + 1 < flat.length; i += 2) out.push({ traceId: flat[i] ?? "", deadlineMs: Number(flat[i + 1]) })
      return out
    })
  )

  const tenantsWithOpenTraces = call(() => r.smembers(tenantsKey))

  // Deadlines (and claims) of before the move to the tenant's slot: moved once, keeping a newer deadline.
  const moveLegacy = (tenantId: string) =>
    call(async () => {
      for (const [from, to] of [[redis.keys.global("traces", tenantId), key(tenantId)], [redis.keys.global("claimed", tenantId), claimedKey(tenantId)]] as const) {
        const flat = await r.zrange(from, 0, -1, "WITHSCORES")
        if (flat.length === 0) continue
        const args: Array<string> = []
        for (let i = 0; i + 1 < flat.length; i += 2) args.push(flat[i + 1] ?? "0", flat[i] ?? "")
        await r.zadd(to, "NX", ...args)
        await r.del(from)
      }
    })
  yield* tenantsWithOpenTraces.pipe(
    Effect.flatMap((tenants) => Effect.forEach(tenants, moveLegacy, { concurrency: 8, discard: true })),
    Effect.catchAll((e) => Effect.logWarning(`open executions of before the upgrade not moved: ${e.message}`))
  )

  return { touch, close, deadlines, claimDue, settle, open, tenantsWithOpenTraces } as const
})

export class TraceRegistry extends Context.Tag("executions/TraceRegistry")<TraceRegistry, Effect.Effect.Success<typeof makeRegistry>>() {
  static readonly Live = Layer.effect(TraceRegistry, makeRegistry)
  /** In memory (src/executions/memoryTraceRegistry.ts): the supervisor's timers under TestClock, without Redis. */
  static readonly Test = Layer.effect(TraceRegistry, makeMemoryTraceRegistry(CLAIM_LEASE_MS))
}
