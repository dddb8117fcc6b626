/**
 * Every Redis key of the service, built here and nowhere else. The part in braces is the Redis
 * Cluster hash tag: keys that share it share a slot (and may meet in one script).
 *  - `{prefix}`             deployment-wide keys: the stage queues, the sets of tenants with state
 *  - `{prefix:t:<tenant>}`  one tenant's state (windows, watermark, quotas, series, backlog, dead letters)
 *  - `{prefix:p<n>}`        ingest partition n ≥ 1 (its BullMQ queue; partition 0 is under `{prefix}`)
 * A tenant's state and each partition can thus live on different cluster nodes.
 */
export interface RedisKeys {
  readonly prefix: string
  /** A deployment-wide key. */
  readonly global: (...parts: ReadonlyArray<string | number>) => string
  /** A key of one tenant's state, in the tenant's own slot. */
  readonly tenant: (tenantId: string, ...parts: ReadonlyArray<string | number>) => string
  /**
   * The BullMQ prefix of ingest partition `n`. Partition 0 keeps the single queue's old place, so the
   * batches a deployment had waiting before partitions are still processed.
   */
  readonly partition: (n: number) => string
  /** The BullMQ prefix of the other stage queues. */
  readonly bull: string
}

export const redisKeys = (prefix: string): RedisKeys => ({
  prefix,
  global: (...parts) => `{${prefix}}:${parts.join(":")}`,
  tenant: (tenantId, ...parts) => `{${prefix}:t:${tenantId}}:${parts.join(":")}`,
  partition: (n) => (n === 0 ? `{${prefix}}` : `{${prefix}:p${n}}`),
  bull: `{${prefix}}`
})

/** SCAN patterns that match every key of a prefix (deployment-wide, per tenant, per partition). */
export const keyPatterns = (prefix: string) => [`{${prefix}}*`, `{${prefix}:*`]

/** FNV-1a (32 bit) of a string's UTF-16 code units: a stable, cheap tenant → partition map. */
export const fnv1a = (s: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h >>> 0
}

export const partitionOf = (tenantId: string, partitions: number) => fnv1a(tenantId) % partitions
