import { Effect } from "effect"
import type { RedisService } from "../../queues/Redis.ts"

// Whether a tenant may have spans stored before their parent (genai_awaiting): set before such spans are
// written, so a batch that finds it unset knows none of its traces has one and skips the database probe
// (adoptingTraces in derive.ts, once per GenAI batch after its insert), which costs the embedded database
// a statement per GenAI batch. A tenant whose traces come whole never sets it. It lasts as long as the
// loops' lookback (a day), renewed by every such write.

const TTL_SECONDS = 86_400

export interface AwaitingFlag {
  readonly mayHaveAwaiting: Effect.Effect<boolean, unknown>
  readonly markAwaiting: Effect.Effect<void, unknown>
}

/** Always "maybe": the probe always runs (no Redis at hand). */
export const ALWAYS_PROBE: AwaitingFlag = { mayHaveAwaiting: Effect.succeed(true), markAwaiting: Effect.void }

export const awaitingFlag = (redis: RedisService, tenantId: string): AwaitingFlag => {
  const key = redis.keys.tenant(tenantId, "genai", "awaiting")
  return {
    mayHaveAwaiting: Effect.tryPromise(() => redis.client.exists(key)).pipe(Effect.map((n) => n > 0)),
    markAwaiting: Effect.tryPromise(() => redis.client.set(key, "1", "EX", TTL_SECONDS)).pipe(Effect.asVoid)
  }
}
