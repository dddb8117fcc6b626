import { Context, Data, Duration, Effect, Layer, Redacted } from "effect"
import { Cluster, Redis } from "ioredis"
import type { ChainableCommander, ClusterOptions, RedisOptions } from "ioredis"
import { AppConfig } from "../config/AppConfig.ts"
import { messageOf } from "../domain/errors.ts"
import { keyPatterns, redisKeys } from "./keys.ts"
import type { RedisKeys } from "./keys.ts"
import { describeRedisTarget, parseRedisTarget } from "./redisTarget.ts"
import type { RedisTarget } from "./redisTarget.ts"

export class RedisUnavailable extends Data.TaggedError("RedisUnavailable")<{ readonly message: string }> {}

/** A connection to one Redis server or to a Redis Cluster: the commands are the same, routed by key on a cluster. */
export type RedisClient = Redis | Cluster

/**
 * A new client of the target: a plain connection, or a cluster client whose per-node connections take
 * `options` (`offlineQueue` is the cluster's own: it holds commands while the slot map is (re)loaded).
 */
export const openClient = (target: RedisTarget, options: RedisOptions): RedisClient => {
  if (target._tag === "Single") return new Redis(target.url, options)
  const { enableOfflineQueue, lazyConnect, ...redisOptions } = options
  const cluster: ClusterOptions = {
    lazyConnect: lazyConnect ?? false,
    enableOfflineQueue: enableOfflineQueue ?? true,
    // After a master dies, commands to its slots fail until its replica is promoted (the node timeout):
    // refresh the slot map quickly, and keep retrying a moved slot meanwhile.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    slotsRefreshTimeout: 2_000,
    redisOptions: {
      ...redisOptions,
      ...(target.username === undefined ? {} : { username: target.username }),
      ...(target.password === undefined ? {} : { password: target.password }),
      ...(target.tls ? { tls: {} } : {})
    }
  }
  return new Cluster(target.nodes.map((n) => ({ host: n.host, port: n.port })), cluster)
}

/** The masters of a cluster (each a connection of the cluster client), or the one server. */
export const mastersOf = (client: RedisClient): ReadonlyArray<Redis> => (client instanceof Cluster ? client.nodes("master") : [client])

export interface RedisService {
  /** Commands of the request path: fail fast while Redis is down instead of queueing forever. */
  readonly client: RedisClient
  /** A new connection for a BullMQ worker or queue (`blocking`: no per-request retry limit, as BullMQ requires). */
  readonly connection: (name: string, blocking: boolean) => RedisClient
  /** A connection of its own for one blocking reader (XREAD BLOCK); the caller closes it. */
  readonly reader: (name: string, commandTimeoutMs: number) => RedisClient
  /** REDIS_URL names a Redis Cluster. */
  readonly isCluster: boolean
  readonly prefix: string
  /** Builds every key under `prefix` (see keys.ts). */
  readonly keys: RedisKeys
  readonly ping: Effect.Effect<void, RedisUnavailable>
}

const START_HINT = "start one with `docker compose up -d redis` or the redis-server package, or point REDIS_URL at one"

export class RedisConnection extends Context.Tag("queues/RedisConnection")<RedisConnection, RedisService>() {
  /** Connects at start; an unreachable Redis (or cluster) stops start-up with one actionable line. */
  static readonly Live = Layer.scoped(
    RedisConnection,
    Effect.gen(function* () {
      const config = yield* AppConfig
      const target = Redacted.value(config.redisTarget)
      const where = describeRedisTarget(target)
      const base: RedisOptions = { lazyConnect: true, connectTimeout: 2_000 }
      const opened: Array<RedisClient> = []
      const open = (name: string, options: RedisOptions) => {
        const r = openClient(target, { ...base, ...options, connectionName: `mplp:${name}` })
        // ioredis reconnects by itself; without a listener an 'error' event would crash the process.
        r.on("error", () => {})
        return r
      }
      const make = (name: string, options: RedisOptions) => {
        const r = open(name, options)
        opened.push(r)
        return r
      }
      const client = make("client", { maxRetriesPerRequest: 1, enableOfflineQueue: true, commandTimeout: 2_000 })
      yield* Effect.addFinalizer(() =>
        Effect.forEach(
          opened,
          (r) => Effect.promise(() => r.quit().catch(() => r.disconnect())).pipe(
            Effect.interruptible,
            Effect.timeout(Duration.seconds(2)),
            Effect.catchAll(() => Effect.sync(() => r.disconnect()))
          ),
          { discard: true }
        )
      )
      const unreachable = (why: string) =>
        new RedisUnavailable({
          message: target._tag === "Cluster"
            ? `cannot reach ${where} (${why}): start its nodes (every master and its replicas, \`cluster_state:ok\`), or point REDIS_URL at a reachable seed node`
            : `cannot reach ${where} (${why}): ${START_HINT}`
        })
      yield* Effect.tryPromise({ try: () => client.connect(), catch: (cause) => unreachable(messageOf(cause)) }).pipe(
        Effect.timeoutFail({ duration: Duration.seconds(5), onTimeout: () => unreachable("timed out") }),
        // A cluster client is "ready" once it has the slot map; a cluster that lost a master without a
        // replica to promote answers CLUSTERDOWN: refuse to start rather than fail every other request.
        Effect.zipRight(target._tag === "Cluster"
          ? Effect.tryPromise({ try: () => client.call("CLUSTER", "INFO") as Promise<string>, catch: (cause) => unreachable(messageOf(cause)) }).pipe(
            Effect.filterOrFail((info) => /cluster_state:ok/.test(info), (info) => unreachable(/cluster_state:(\w+)/.exec(info)?.[0] ?? "cluster state unknown"))
          )
          : Effect.void)
      )
      const ping = Effect.tryPromise({
        try: () => client.ping(),
        catch: (cause) => new RedisUnavailable({ message: `${where}: ${messageOf(cause)}` })
      }).pipe(
        Effect.timeoutFail({ duration: Duration.seconds(2), onTimeout: () => new RedisUnavailable({ message: `${where}: ping timed out` }) }),
        Effect.asVoid
      )
      return {
        client,
        // A cluster connection of BullMQ's connects at once: BullMQ would call connect() on a lazy one, and a
        // queue closed while that is under way leaves its rejection unhandled.
        connection: (name, blocking) =>
          make(name, {
            ...(blocking ? { maxRetriesPerRequest: null, enableOfflineQueue: true } : { maxRetriesPerRequest: 1, enableOfflineQueue: false }),
            ...(target._tag === "Cluster" ? { lazyConnect: false } : {})
          }),
        reader: (name, commandTimeoutMs) => open(name, { maxRetriesPerRequest: 1, enableOfflineQueue: true, commandTimeout: commandTimeoutMs }),
        isCluster: target._tag === "Cluster",
        prefix: config.queuePrefix,
        keys: redisKeys(config.queuePrefix),
        ping
      }
    })
  )
}

/**
 * Waits until `replicas` replicas have every write this client's connection to `key`'s node made so
 * far (Redis WAIT on that very connection: a pipeline is routed by its key), then checks that `key` is
 * there. `acked`: the replicas that confirmed (fewer when the timeout passed first). `present`: false
 * when the node that answered no longer has the key (a failover between the write and the WAIT: the
 * WAIT then ran on the promoted replica's connection, which says nothing about the lost write).
 */
/**
 * Runs a pipeline and fails with its first command's error, if any: ioredis resolves a pipeline whose
 * commands failed, each error beside its command, which would otherwise go unseen.
 */
export const execAll = async (pipeline: ChainableCommander): Promise<Array<[error: Error | null, result: unknown]>> => {
  const results = (await pipeline.exec()) ?? []
  const failed = results.find(([e]) => e !== null)
  if (failed !== undefined) throw failed[0]
  return results
}

export const waitForReplicas = async (client: RedisClient, key: string, replicas: number, timeoutMs: number): Promise<{ readonly acked: number; readonly present: boolean }> => {
  const res = await client.pipeline().wait(replicas, timeoutMs).exists(key).exec()
  const [waitErr, acked] = res?.[0] ?? [new Error("WAIT: no reply"), 0]
  const [existsErr, present] = res?.[1] ?? [new Error("EXISTS: no reply"), 0]
  if (waitErr !== null) throw waitErr
  if (existsErr !== null) throw existsErr
  return { acked: Number(acked), present: Number(present) === 1 }
}

/** Every key matching one of `patterns`, on every master of a cluster (SCAN sees one node only). */
export const scanKeys = async function* (client: RedisClient, patterns: ReadonlyArray<string>): AsyncGenerator<{ readonly node: Redis; readonly keys: ReadonlyArray<string> }> {
  for (const node of mastersOf(client)) {
    for (const pattern of patterns) {
      let cursor = "0"
      do {
        const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", 1000)
        cursor = next
        if (keys.length > 0) yield { node, keys }
      } while (cursor !== "0")
    }
  }
}

/** Removes every key under a prefix (`{prefix}…`): what a test run or a benchmark leaves behind. */
export const deleteKeysWithPrefix = async (url: string, prefix: string, cluster = false): Promise<void> => {
  const target = parseRedisTarget(url, cluster)
  if (target._tag === "Left") throw new Error(`REDIS_URL ${target.left}`)
  const redis = openClient(target.right, { lazyConnect: true })
  await redis.connect()
  try {
    // One DEL per node and batch: a batch's keys are on that node, though not in one slot.
    for await (const { node, keys } of scanKeys(redis, keyPatterns(prefix))) {
      const pipe = node.pipeline()
      for (const k of keys) pipe.del(k)
      await pipe.exec()
    }
  } finally {
    await redis.quit()
  }
}
