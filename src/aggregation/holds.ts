import type { ChainableCommander } from "ioredis"
import type { IngestJob } from "../domain/jobs.ts"
import type { RedisKeys } from "../queues/keys.ts"
import type { RedisService } from "../queues/Redis.ts"

// A tenant's *holds*: a batch accepted by the API keeps the tenant's windows that end after its earliest
// event time from closing until its partials are in the window store. The stages run a tenant's batches
// side by side, so a batch sent after another may reach the aggregate stage first and move the watermark
// past the earlier batch's windows; without the hold those windows closed (or were born "additive")
// without the earlier batch, and a breach in it raised no alert. Keys, in the tenant's slot:
//   {P:t:<tenant>}:hold-ev          zset: accepted batch's job id → its earliest event time (clamped, below)
//   {P:t:<tenant>}:hold-at          zset: job id → accept time (wall clock): a hold older than
//                                   MPLP_WINDOW_HOLD_SECONDS is dropped (a batch dead-lettered in the
//                                   aggregate stage, a process killed, must not hold windows forever)
//   {P:t:<tenant>}:closed-through   the largest watermark cutoff a close pass applied (held back by the
//                                   holds; only ever grows): a window that never opened and ends at or
//                                   before it is late as a whole (additive)
// Registered at accept (in the backlog's RESERVE script, or HOLD), released by the aggregate job right
// after its partials (WindowStore.addPartials), or by the ingest stage when the batch makes no aggregate
// job or is dead-lettered. Releasing twice is harmless.

export const holdKeys = (keys: RedisKeys, tenantId: string) => ({
  events: keys.tenant(tenantId, "hold-ev"),
  accepted: keys.tenant(tenantId, "hold-at"),
  closedThrough: keys.tenant(tenantId, "closed-through")
})

/**
 * The holds of a tenant that stopped sending go with its last batch's a day later: stale ones are dropped
 * only by close passes, which a tenant without open windows no longer has.
 */
const HOLDS_TTL_MS = 86_400_000

/**
 * The Lua that registers a hold, for a script whose KEYS[k..k+2] are hold-ev, hold-at, closed-through and
 * whose arguments `ev`, `at`, `id` are Lua expressions. A hold never reaches below closed-through: windows
 * ending there are closed already (the batch's points in them are late whatever happens), and a hold from
 * an old event time (a long span's start) would otherwise keep every newer window open while it lasts.
 */
export const holdLua = (k: number, id: string, ev: string, at: string) => `
local ct = tonumber(redis.call('GET', KEYS[${k + 2}]) or '-1e300')
local ev = tonumber(${ev})
if ev < ct then ev = ct end
redis.call('ZADD', KEYS[${k}], ev, ${id})
redis.call('ZADD', KEYS[${k + 1}], ${at}, ${id})
redis.call('PEXPIRE', KEYS[${k}], ${HOLDS_TTL_MS})
redis.call('PEXPIRE', KEYS[${k + 1}], ${HOLDS_TTL_MS})`

const HOLD = `${holdLua(1, "ARGV[1]", "ARGV[2]", "ARGV[3]")}
return 1`

/**
 * The earliest event time a batch hands to the aggregate stage (what its points are windowed by), or
 * undefined when it hands none: metric points by their time; spans' RED and GenAI series by the span's
 * start; an execution's update and finish metrics by the time the API received them.
 */
export const earliestEventOf = (job: IngestJob): number | undefined => {
  let min = Number.POSITIVE_INFINITY
  switch (job._tag) {
    case "metrics":
      for (const p of job.points) if (p.timeMs < min) min = p.timeMs
      break
    case "spans":
      for (const s of job.spans) if (s.startTimeMs < min) min = s.startTimeMs
      break
    case "execution-update":
      if (Object.keys(job.update.metrics ?? {}).length > 0) min = job.receivedAtMs
      break
    case "execution-finish":
      if (Object.keys(job.result.finalMetrics ?? {}).length > 0) min = job.receivedAtMs
      break
    case "execution-start":
      break
  }
  return Number.isFinite(min) ? min : undefined
}

/** Registers a hold outside the backlog's reservation (the jobs that skip it). */
export const registerHold = (redis: RedisService, tenantId: string, jobId: string, earliestEventMs: number, acceptedAtMs: number) => {
  const k = holdKeys(redis.keys, tenantId)
  return redis.client.eval(HOLD, 3, k.events, k.accepted, k.closedThrough, jobId, earliestEventMs, acceptedAtMs)
}

/** Releases a batch's hold, queued on a pipeline (with other commands of the tenant's slot). */
export const releaseHoldIn = (pipeline: ChainableCommander, keys: RedisKeys, tenantId: string, jobId: string) => {
  const k = holdKeys(keys, tenantId)
  return pipeline.zrem(k.events, jobId).zrem(k.accepted, jobId)
}

