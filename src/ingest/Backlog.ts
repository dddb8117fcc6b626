import { Effect } from "effect"
import type { ChainableCommander } from "ioredis"
import { execAll } from "../queues/Redis.ts"
import type { RedisService } from "../queues/Redis.ts"
import { holdKeys, holdLua, releaseHoldIn } from "../aggregation/holds.ts"

// A tenant's share of the ingest backlog: one hash in the tenant's slot, job id → "points bytes" of
// each accepted batch not yet stored, with the totals in __points / __bytes (and __bulk, the batches in
// the bulk lane; __seq, the last reservation's number: the batches' order is kept in a sorted set beside
// the hash, read by earlierBatchesWaiting). Reserved before the job
// is queued, released when it is stored or dead-lettered (both idempotent: a redelivery finds nothing
// to release). A batch is always admitted into an empty share, so one larger than the share is not
// refused forever. The hash expires an hour after the tenant's last batch: a reservation leaked by a
// process killed between reserving and queueing does not outlive the tenant's activity.
// The same script registers the batch's window hold (src/aggregation/holds.ts: KEYS[2..4], ARGV[7] its
// earliest event time or "" for none, ARGV[8] the accept time): no round trip of its own. A repeated
// reservation of a job id registers none (the first did, and may already have been released).
// It also picks the batch's lane (see BULK_AFTER): the bulk lane (1) while the tenant has a batch
// waiting there (__bulk counts them), or, for a batch that may open a bulk episode (ARGV[11] = '1': data,
// not an execution's start, update or finish), when the tenant already has ARGV[9] batches or ARGV[10]
// points waiting; else the main lane (0). So a tenant's batches change lanes once per backlog (main to
// bulk), and go back to the main lane only once nothing of theirs waits in the bulk lane: an execution's
// finish queues behind the spans sent before it. The lane is kept with the reservation ("points bytes
// lane"), so a repeated reservation of a job id (a retried Idempotency-Key) answers the first one's lane:
// the job is queued where BullMQ's job-id dedupe finds the first.
const RESERVE = `
local prior = redis.call('HGET', KEYS[1], ARGV[1])
if prior then return {0, 0, 0, tonumber(string.match(prior, '^%S+ %S+ (%d)') or '0')} end
local p = tonumber(redis.call('HGET', KEYS[1], '__points') or '0')
local b = tonumber(redis.call('HGET', KEYS[1], '__bytes') or '0')
if (p > 0 or b > 0) and (p + tonumber(ARGV[2]) > tonumber(ARGV[4]) or b + tonumber(ARGV[3]) > tonumber(ARGV[5])) then return {1, p, b, 0} end
local bulk = redis.call('HGET', KEYS[1], '__bulk')
local lane = 0
if bulk and tonumber(bulk) > 0 then lane = 1
elseif ARGV[11] == '1' then
  local waiting = redis.call('HLEN', KEYS[1])
  for _, f in ipairs({'__points', '__bytes', '__bulk', '__seq'}) do waiting = waiting - redis.call('HEXISTS', KEYS[1], f) end
  if waiting >= tonumber(ARGV[9]) or p >= tonumber(ARGV[10]) then lane = 1 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ' ' .. ARGV[3] .. ' ' .. lane)
if lane == 1 then redis.call('HINCRBY', KEYS[1], '__bulk', 1) end
redis.call('ZADD', KEYS[5], redis.call('HINCRBY', KEYS[1], '__seq', 1), ARGV[1])
redis.call('PEXPIRE', KEYS[5], ARGV[6])
redis.call('HINCRBY', KEYS[1], '__points', ARGV[2])
redis.call('HINCRBY', KEYS[1], '__bytes', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
if ARGV[7] ~= '' then${holdLua(2, "ARGV[1]", "ARGV[7]", "ARGV[8]").replace(/\n/g, "\n  ")}
end
return {0, p, b, lane}`

const RELEASE = `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local p, b = string.match(v, '^(%S+) (%S+)')
redis.call('HDEL', KEYS[1], ARGV[1])
if string.match(v, '^%S+ %S+ (%d)') == '1' then redis.call('HINCRBY', KEYS[1], '__bulk', -1) end
redis.call('ZREM', KEYS[2], ARGV[1])
-- 0 - n, not -n: Lua's -0 reaches Redis as "-0", which HINCRBY refuses (a batch of 0 bytes, or points).
redis.call('HINCRBY', KEYS[1], '__points', 0 - tonumber(p))
redis.call('HINCRBY', KEYS[1], '__bytes', 0 - tonumber(b))
return 1`

// How many of the tenant's batches accepted before this one (reserved earlier) are not yet stored.
const EARLIER = `
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not s then return 0 end
return redis.call('ZCOUNT', KEYS[1], '-inf', '(' .. s)`

const TTL_MS = 3600_000

export interface BacklogShare {
  readonly maxBacklogPoints: number
  readonly maxBacklogBytes: number
}

/**
 * When a tenant's batches go to its partition's bulk lane: once it already has this many batches, or
 * points, accepted and not yet stored. A partition's main lane then serves the tenants that are not
 * backlogged: a quiet tenant that hashes to a loud tenant's partition finds the main lane's workers free
 * instead of all of them busy with the loud tenant's batches (each lane has its own workers).
 */
export const BULK_AFTER = { batches: 4, points: 5_000 } as const

export type Lane = "main" | "bulk"

export type Reservation =
  /** `points`: what the tenant had waiting before this batch. */
  | { readonly _tag: "Reserved"; readonly points: number; readonly lane: Lane }
  | { readonly _tag: "Over"; readonly points: number; readonly bytes: number }

const backlogKey = (redis: RedisService, tenantId: string) => redis.keys.tenant(tenantId, "backlog")
/** The tenant's batches not yet stored, by the order of their reservation (`__seq`). */
const orderKey = (redis: RedisService, tenantId: string) => redis.keys.tenant(tenantId, "backlog", "order")

/**
 * `hold`: the batch's window hold, registered with the reservation (none for a batch that hands no points on).
 * `opensBulk`: whether this batch may start its tenant's bulk episode (data batches); an execution's start,
 * update or finish follows the tenant's lane instead, so that it is not queued ahead of the spans before it.
 */
export const reserveBacklog = (
  redis: RedisService, tenantId: string, jobId: string, points: number, bytes: number, share: BacklogShare,
  hold?: { readonly earliestEventMs: number; readonly acceptedAtMs: number }, opensBulk = true
) =>
  Effect.tryPromise(() => {
    const h = holdKeys(redis.keys, tenantId)
    return redis.client.eval(
      RESERVE, 5, backlogKey(redis, tenantId), h.events, h.accepted, h.closedThrough, orderKey(redis, tenantId),
      jobId, points, bytes, share.maxBacklogPoints, share.maxBacklogBytes, TTL_MS, hold?.earliestEventMs ?? "", hold?.acceptedAtMs ?? 0,
      BULK_AFTER.batches, BULK_AFTER.points, opensBulk ? "1" : "0"
    ) as Promise<[number, number, number, number]>
  }).pipe(Effect.map(([over, p, b, lane]): Reservation =>
    over === 1 ? { _tag: "Over", points: p, bytes: b } : { _tag: "Reserved", points: p, lane: lane === 1 ? "bulk" : "main" }))

/**
 * A batch's BullMQ priority in its partition (1 is first): one step per 1,000 points its tenant already
 * has waiting. A quiet tenant's batch goes ahead of a loud tenant's backlog that shares its partition;
 * the loud tenant's own batches still run roughly in order (the stages do not need a tenant's batches
 * in order: windows merge in any order, execution steps carry sequence numbers).
 */
export const priorityOf = (waitingPoints: number) => 1 + Math.min(2_000_000, Math.floor(Math.max(0, waitingPoints) / 1000))

/**
 * A batch that was never queued (its queue write failed) or was dead-lettered: its points leave the
 * tenant's share and its window hold goes, in one round trip.
 */
export const releaseBacklogAndHold = async (redis: RedisService, tenantId: string, jobId: string) => {
  await execAll(releaseHoldIn(releaseBacklogIn(redis.client.pipeline(), redis, tenantId, jobId), redis.keys, tenantId, jobId))
}

/** The batch leaves its tenant's share (stored, dead-lettered, never queued), queued on a pipeline with other commands of the tenant's slot. */
export const releaseBacklogIn = (pipeline: ChainableCommander, redis: RedisService, tenantId: string, jobId: string) =>
  pipeline.eval(RELEASE, 2, backlogKey(redis, tenantId), orderKey(redis, tenantId), jobId)

/**
 * How many of the tenant's batches accepted before this one are not stored yet (0 for a job without a
 * reservation). An execution's finish waits for them (src/ingest/IngestStage.ts): the lanes and the
 * stage's slots store a tenant's batches side by side, not in order.
 */
export const earlierBatchesWaiting = (redis: RedisService, tenantId: string, jobId: string) =>
  Effect.tryPromise(() => redis.client.eval(EARLIER, 1, orderKey(redis, tenantId), jobId) as Promise<number>)

/** Items a batch holds: its points or spans; an execution event is one. */
export const itemsOf = (job: { readonly _tag: string } & ({ readonly points: ReadonlyArray<unknown> } | { readonly spans: ReadonlyArray<unknown> } | object)) =>
  "points" in job ? job.points.length : "spans" in job ? job.spans.length : 1
