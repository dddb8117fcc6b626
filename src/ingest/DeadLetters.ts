import type { Job } from "bullmq"
import type { RedisClient } from "../queues/Redis.ts"
import type { JobInfo } from "./IngestQueue.ts"
import { redisKeys } from "../queues/keys.ts"

/**
 * A tenant's dead letters, a small index written when an ingest job fails for good: job id → when it
 * failed (a sorted set), and job id → its record (kind, times, attempts, the reason cut short) in a
 * hash. Listing reads only these, never the jobs (a batch of thousands of spans each).
 */
export const deadLetterKey = (prefix: string, tenantId: string) => redisKeys(prefix).tenant(tenantId, "ingest-failed")
const deadLetterInfoKey = (prefix: string, tenantId: string) => redisKeys(prefix).tenant(tenantId, "ingest-failed-info")
const DEAD_LETTER_DAYS = 7
const DEAD_LETTER_MAX = 10_000
const REASON_CHARS = 500

type RedisRef = { readonly client: RedisClient; readonly prefix: string }

/** A failure reason can quote a whole payload: the client gets its start. */
export const shortReason = (reason: string) => (reason.length > REASON_CHARS ? `${reason.slice(0, REASON_CHARS)}…` : reason)

interface DeadLetter {
  readonly kind: string
  readonly attempts: number
  readonly reason: string
  readonly createdAt: number
  readonly failedAt: number
}

// Adds one entry, then drops those older than the cutoff and the oldest beyond the maximum, from both keys.
const INDEX_DEAD_LETTER = `
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4])
local kept = redis.call('ZCARD', KEYS[1]) - #gone
local max = tonumber(ARGV[5])
if kept > max then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], #gone, #gone + kept - max - 1)) do gone[#gone + 1] = id end
end
for i = 1, #gone, 500 do
  local chunk = {unpack(gone, i, math.min(i + 499, #gone))}
  redis.call('ZREM', KEYS[1], unpack(chunk))
  redis.call('HDEL', KEYS[2], unpack(chunk))
end
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('EXPIRE', KEYS[2], ARGV[6])
`

/** The tenant of a job id (`<tenant>.<id>`), or undefined. */
export const tenantOfJob = (jobId: string) => {
  const dot = jobId.indexOf(".")
  return dot <= 0 ? undefined : jobId.slice(0, dot)
}

/** Indexes a job that failed for good under its tenant (job ids are `<tenant>.<id>`), pruning what BullMQ has dropped. */
export const indexDeadLetter = (redis: RedisRef, job: Job) => {
  const id = job.id ?? ""
  const tenantId = tenantOfJob(id)
  if (tenantId === undefined) return Promise.resolve()
  const at = job.finishedOn ?? Date.now()
  const reason = job.failedReason ?? ""
  const record: DeadLetter = {
    kind: job.name, attempts: job.attemptsMade, createdAt: job.timestamp, failedAt: at,
    reason: shortReason(reason)
  }
  return redis.client.eval(
    INDEX_DEAD_LETTER, 2, deadLetterKey(redis.prefix, tenantId), deadLetterInfoKey(redis.prefix, tenantId),
    id, at, JSON.stringify(record), at - DEAD_LETTER_DAYS * 86_400_000, DEAD_LETTER_MAX, DEAD_LETTER_DAYS * 86_400
  )
}

const deadLetterInfo = (jobId: string, d: DeadLetter): JobInfo => ({
  jobId, kind: d.kind, state: "failed", attempts: d.attempts,
  ...(d.reason === "" ? {} : { failedReason: d.reason }),
  createdAt: new Date(d.createdAt).toISOString(), finishedAt: new Date(d.failedAt).toISOString()
})

/** The tenant's newest `limit` dead letters, from the index alone. */
export const listDeadLetters = async (redis: RedisRef, tenantId: string, limit: number): Promise<Array<JobInfo>> => {
  const ids = await redis.client.zrevrange(deadLetterKey(redis.prefix, tenantId), 0, limit - 1)
  if (ids.length === 0) return []
  const records = await redis.client.hmget(deadLetterInfoKey(redis.prefix, tenantId), ...ids)
  return ids.flatMap((id, i) => {
    const r = records[i]
    return r === null || r === undefined ? [] : [deadLetterInfo(id, JSON.parse(r) as DeadLetter)]
  })
}

/** Drops a job from its tenant's index (it was retried, or is gone). */
export const forgetDeadLetter = (redis: RedisRef, tenantId: string, jobId: string) =>
  redis.client.multi().zrem(deadLetterKey(redis.prefix, tenantId), jobId).hdel(deadLetterInfoKey(redis.prefix, tenantId), jobId).exec()

