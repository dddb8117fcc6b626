import { Either } from "effect"

export interface RedisNode {
  readonly host: string
  readonly port: number
}

/**
 * What REDIS_URL names: one server (`redis://`, `rediss://`), or a Redis Cluster given by seed nodes
 * (`redis+cluster://[user:pass@]host:port,host:port`, `rediss+cluster://` for TLS, or any single-server URL
 * with REDIS_CLUSTER=true). A cluster client learns the other nodes from any one seed.
 */
export type RedisTarget =
  | { readonly _tag: "Single"; readonly url: string }
  | {
    readonly _tag: "Cluster"
    readonly nodes: ReadonlyArray<RedisNode>
    readonly username?: string
    readonly password?: string
    readonly tls: boolean
  }

const SCHEMES = ["redis:", "rediss:", "redis+cluster:", "rediss+cluster:"]
export const REDIS_URL_MESSAGE = "must be redis://host:port, rediss://host:port or redis+cluster://host:port,host:port (a Redis Cluster's seed nodes)"

const parseNode = (s: string): RedisNode | undefined => {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:/[\]]+)(?::(\d{1,5}))?$/.exec(s.trim())
  if (m === null) return undefined
  const port = m[2] === undefined ? 6379 : Number(m[2])
  return port > 0 && port <= 65535 ? { host: (m[1] ?? "").replace(/^\[|\]$/g, ""), port } : undefined
}

/** Pure: the target of a REDIS_URL (and REDIS_CLUSTER), or why it is not one. */
export const parseRedisTarget = (url: string, cluster: boolean): Either.Either<RedisTarget, string> => {
  const scheme = /^([a-z+]+:)\/\//.exec(url)?.[1]
  if (scheme === undefined || !SCHEMES.includes(scheme)) return Either.left(REDIS_URL_MESSAGE)
  const isCluster = cluster || scheme.endsWith("+cluster:")
  const rest = url.slice(scheme.length + 2)
  const at = rest.lastIndexOf("@")
  const auth = at < 0 ? "" : rest.slice(0, at)
  const hosts = (at < 0 ? rest : rest.slice(at + 1)).replace(/\/.*$/, "")
  if (!isCluster) {
    try {
      new URL(url)
      return Either.right({ _tag: "Single", url })
    } catch {
      return Either.left(REDIS_URL_MESSAGE)
    }
  }
  const nodes = hosts.split(",").filter((h) => h.trim() !== "").map(parseNode)
  if (nodes.length === 0 || nodes.some((n) => n === undefined)) return Either.left(REDIS_URL_MESSAGE)
  const colon = auth.indexOf(":")
  const username = decodeURIComponent(colon < 0 ? auth : auth.slice(0, colon))
  const password = colon < 0 ? undefined : decodeURIComponent(auth.slice(colon + 1))
  return Either.right({
    _tag: "Cluster",
    nodes: nodes as Array<RedisNode>,
    ...(username === "" ? {} : { username }),
    ...(password === undefined || password === "" ? {} : { password }),
    tls: scheme.startsWith("rediss")
  })
}

/** host:port of the target, without credentials, for messages. */
export const describeRedisTarget = (t: RedisTarget): string => {
  if (t._tag === "Cluster") return `the Redis Cluster at ${t.nodes.map((n) => `${n.host}:${n.port}`).join(",")}`
  try {
    const u = new URL(t.url)
    return `Redis at ${u.protocol}//${u.hostname}:${u.port || "6379"}${u.pathname.length > 1 ? u.pathname : ""}`
  } catch {
    return "Redis at (unparseable REDIS_URL)"
  }
}
