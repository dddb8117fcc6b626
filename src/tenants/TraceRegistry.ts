import { Context, Effect, Layer } from "effect"
import { RedisConnection } from "../queues/Redis.ts"

// Open executions and their idle deadlines, durable in Redis so that an execution whose watcher (the
// tenant actor's timer) was lost with its process is timed out by whoever claims the deadline next:
//   P:traces:<tenant>     zset traceId → deadline (ms); a claim is a ZREM, which succeeds once
//   P:traces-tenants      tenants with open executions, for the sweeper

const CLAIM_DUE = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local claimed = {}
for _, id in ipairs(due) do
  if redis.call('ZREM', KEYS[1], id) == 1 then table.insert(claimed, id) end
end
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[3]) end
return claimed`

const makeRegistry = Effect.gen(function* () {
  const redis = yield* RedisConnection
  const r = redis.client
  const p = `{${redis.prefix}}`
  const key = (tenantId: string) => `${p}:traces:${tenantId}`
  const call = <A>(f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: (e) => (e instanceof Error ? e : new Error(String(e))) })

  /** Opens or extends an execution's idle deadline. */
  const touch = (tenantId: string, traceId: string, deadlineMs: number) =>
    call(() => r.multi().zadd(key(tenantId), deadlineMs, traceId).sadd(`${p}:traces-tenants`, tenantId).exec()).pipe(Effect.asVoid)

  /** The execution finished: nobody will time it out. */
  const close = (tenantId: string, traceId: string) => call(() => r.zrem(key(tenantId), traceId)).pipe(Effect.asVoid)

  /** The current deadlines of several executions (undefined where no longer open), a round trip per 1000. */
  const deadlines = (tenantId: string, traceIds: ReadonlyArray<string>) =>
    Effect.forEach(
      Array.from({ length: Math.ceil(traceIds.length / 1000) }, (_, i) => traceIds.slice(i * 1000, i * 1000 + 1000)),
      (ids) => call(() => r.zmscore(key(tenantId), ...ids))
    ).pipe(Effect.map((chunks) => chunks.flat().map((s) => (s === null ? undefined : Number(s)))))

  /** Atomically takes the executions whose deadline is at or before `nowMs`: each is claimed by one caller only. */
  const claimDue = (tenantId: string, nowMs: number, limit = 500) =>
    call(() => r.eval(CLAIM_DUE, 2, key(tenantId), `${p}:traces-tenants`, String(nowMs), String(limit), tenantId) as Promise<Array<string>>)

  const open = (tenantId: string) => call(() => r.zrange(key(tenantId), 0, -1, "WITHSCORES")).pipe(
    Effect.map((flat) => {
      const out: Array<{ traceId: string; deadlineMs: number }> = []
      for (let i = 0; i + 1 < flat.length; i += 2) out.push({ traceId: flat[i] ?? "", deadlineMs: Number(flat[i + 1]) })
      return out
    })
  )

  const tenantsWithOpenTraces = call(() => r.smembers(`${p}:traces-tenants`))

  return { touch, close, deadlines, claimDue, open, tenantsWithOpenTraces } as const
})

export class TraceRegistry extends Context.Tag("tenants/TraceRegistry")<TraceRegistry, Effect.Effect.Success<typeof makeRegistry>>() {
  static readonly Live = Layer.effect(TraceRegistry, makeRegistry)
}
