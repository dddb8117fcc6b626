import { Config, ConfigError, Context, Effect, Either, Layer, LogLevel, Option, Redacted } from "effect"
import ipaddr from "ipaddr.js"
import { existsSync } from "node:fs"
import { parseRedisTarget } from "../queues/redisTarget.ts"
import type { RedisTarget } from "../queues/redisTarget.ts"

const isAddressOrCidr = (s: string): boolean => (s.includes("/") ? ipaddr.isValidCIDR(s) : ipaddr.isValid(s))

/** Every setting of the service, read once from the environment. */
export interface AppSettings {
  readonly port: number
  readonly host: string
  /** Unset: the embedded TimescaleDB (PGlite) in `dataDir`. */
  readonly databaseUrl: Option.Option<Redacted.Redacted<string>>
  /** A streaming replica of DATABASE_URL the read-only query endpoints read (src/db/ReadDb.ts); needs DATABASE_URL. */
  readonly databaseReadUrl: Option.Option<Redacted.Redacted<string>>
  /** Embedded data folder, or `memory://` for an in-memory database. */
  readonly dataDir: string
  /** A dumped data folder (tar or tar.gz of PGlite's dumpDataDir) a `memory://` database starts from. */
  readonly embeddedSeed: Option.Option<string>
  readonly redisUrl: Redacted.Redacted<string>
  /** REDIS_URL (and REDIS_CLUSTER) parsed: one server, or a Redis Cluster's seed nodes. */
  readonly redisTarget: Redacted.Redacted<RedisTarget>
  /**
   * Replicas an ingest enqueue must reach (Redis WAIT) before the API answers 202; 0: the master's
   * acknowledgement is enough. Default 1 on a Redis Cluster, 0 on one server.
   */
  readonly redisWaitReplicas: number
  /** How long the API waits for those replicas before it answers 503 instead. */
  readonly redisWaitTimeoutMs: number
  /** Prefix of every Redis key and BullMQ queue; tests use one per run. */
  readonly queuePrefix: string
  readonly adminToken: Option.Option<Redacted.Redacted<string>>
  readonly logLevel: LogLevel.LogLevel
  readonly logFormat: "json" | "pretty" | "auto"
  readonly maxBodyBytes: number
  readonly tenantsDir: string
  readonly otlpEndpoint: Option.Option<string>
  readonly serviceName: string
  /** The tenant that receives the service's own spans and metrics (dogfooding); unset: none. */
  readonly selfTenant: Option.Option<string>
  /** Embedded mode only: how often the service refreshes the continuous aggregates. */
  readonly aggregateRefreshSeconds: number
  readonly allowPrivateWebhooks: boolean
  /** Waiting ingest batches above which the API answers 503 instead of queueing more. */
  readonly maxBacklog: number
  /** On SIGTERM the API answers 503 (and /readyz not ready) for this long before it closes. */
  readonly shutdownGraceMs: number
  /** A worker's lock on a job; a job whose worker died is picked up again after about this long. */
  readonly jobLockMs: number
  /** Connections per process to a DATABASE_URL server; 1 against a shared embedded database. */
  readonly dbPoolMax: number
  /** COPY statements per table one process runs at once on a server; the others' rows wait and are merged (src/db/copyCoalescer.ts). */
  readonly dbCopyStreams: number
  /** Idle connections are closed after this; a few ms against a shared embedded database (one connection at a time). */
  readonly dbIdleMs: number
  /** Embedded mode only: serve the in-process database on this port so other processes can share it. */
  readonly embeddedDbPort: Option.Option<number>
  /** Failed sign-ins (401) one client address may make per window before it gets 429. */
  readonly authMaxFailures: number
  readonly authFailureWindowSeconds: number
  /** Peers whose X-Forwarded-For is believed (addresses or CIDRs); empty: the socket's address is the client's. */
  readonly trustedProxies: ReadonlyArray<string>
  /** Bearer token `/metrics` requires; unset: open. */
  readonly metricsToken: Option.Option<Redacted.Redacted<string>>
  /** Encrypts webhook secrets at rest (AES-256-GCM); the previous keys only decrypt (rotation). */
  readonly secretKey: Option.Option<Redacted.Redacted<Buffer>>
  readonly secretKeysPrevious: ReadonlyArray<Redacted.Redacted<Buffer>>
  /** Event times older than this (before now) are refused: raw data is retained 30 days. */
  readonly eventMaxAgeSeconds: number
  /** Event times later than this after now are refused (clock skew allowance). */
  readonly eventMaxFutureSeconds: number
  /** A read endpoint's statement running longer is abandoned with a 503. */
  readonly queryTimeoutMs: number
  /** Widest time range of a query that reads raw points (series from metric_points). */
  readonly maxRawRangeHours: number
  /** A closed window's partials stay this long in Redis (exact late corrections, redelivery dedupe). */
  readonly windowRetainSeconds: number
  /** A batch accepted and not yet aggregated holds its tenant's windows from closing at most this long. */
  readonly windowHoldSeconds: number
  /** A series with no point for this long no longer counts against its tenant's maxActiveSeries. */
  readonly seriesIdleSeconds: number
  /** Ingest queue partitions (tenant → partition by FNV-1a), consumed side by side. */
  readonly queuePartitions: number
  /** A running execution's trace actor is passivated after this long without an event. */
  readonly traceActorIdleMs: number
}

const LEVELS: Record<string, LogLevel.LogLevel> = {
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warn: LogLevel.Warning,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  fatal: LogLevel.Fatal,
  none: LogLevel.None
}

const positiveInt = (name: string, fallback: number) =>
  Config.integer(name).pipe(
    Config.validate({ message: "must be a positive integer", validation: (n) => n > 0 }),
    Config.withDefault(fallback)
  )

/** 32 bytes as 64 hex digits or base64 (`openssl rand -base64 32`). */
export const parseSecretKey = (s: string): Buffer | undefined => {
  const t = s.trim()
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, "hex")
  if (!/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) return undefined
  const b = Buffer.from(t, "base64")
  return b.length === 32 ? b : undefined
}

const SECRET_KEY_MESSAGE = "must be 32 bytes as 64 hex digits or base64 (e.g. `openssl rand -base64 32`)"

const secretKeyList = (name: string) =>
  Config.string(name).pipe(
    Config.mapOrFail((s) => {
      const given = s.split(",").filter((x) => x.trim() !== "")
      const keys = given.map(parseSecretKey).filter((k): k is Buffer => k !== undefined)
      return keys.length === given.length
        ? Either.right(keys.map((k) => Redacted.make(k)))
        : Either.left(ConfigError.InvalidData([], `each comma-separated key ${SECRET_KEY_MESSAGE}`))
    }),
    Config.withDefault([])
  )

/** Unset or empty (as `${X:-}` in a compose file passes it): None. */
const optional = <A>(name: string, parse: (s: string) => Either.Either<A, string>) =>
  Config.string(name).pipe(
    Config.withDefault(""),
    Config.mapOrFail((s) =>
      s.trim() === ""
        ? Either.right(Option.none<A>())
        : Either.match(parse(s.trim()), {
            // Named here: after withDefault the failure no longer carries the variable's name.
            onLeft: (message) => Either.left(ConfigError.InvalidData([name], message)),
            onRight: (a) => Either.right(Option.some(a))
          })
    )
  )

/** Addresses or CIDRs, comma-separated. */
const addressList = (name: string) =>
  Config.string(name).pipe(
    Config.map((s) => s.split(",").map((x) => x.trim()).filter((x) => x !== "")),
    Config.validate({ message: "must be comma-separated IP addresses or CIDRs", validation: (xs) => xs.every(isAddressOrCidr) }),
    Config.withDefault([])
  )

const urlWithScheme = (name: string, schemes: ReadonlyArray<string>) =>
  Config.string(name).pipe(
    Config.validate({
      message: `must be a URL starting with ${schemes.map((s) => `${s}//`).join(" or ")}`,
      validation: (s) => {
        try {
          return schemes.includes(new URL(s).protocol)
        } catch {
          return false
        }
      }
    })
  )

const settings = Config.all({
  port: Config.integer("PORT").pipe(
    Config.validate({ message: "must be a port number (0 picks a free one)", validation: (n) => n >= 0 && n <= 65535 }),
    Config.withDefault(8080)
  ),
  host: Config.string("HOST").pipe(Config.withDefault("0.0.0.0")),
  databaseUrl: Config.option(urlWithScheme("DATABASE_URL", ["postgres:", "postgresql:"]).pipe(Config.map(Redacted.make))),
  databaseReadUrl: optional("DATABASE_READ_URL", (s) => {
    try {
      return ["postgres:", "postgresql:"].includes(new URL(s).protocol) ? Either.right(Redacted.make(s)) : Either.left("must be a URL starting with postgres:// or postgresql://")
    } catch {
      return Either.left("must be a URL starting with postgres:// or postgresql://")
    }
  }),
  dataDir: Config.string("MPLP_DATA_DIR").pipe(Config.withDefault("./data")),
  embeddedSeed: optional("MPLP_EMBEDDED_SEED", (s) => (existsSync(s) ? Either.right(s) : Either.left(`${s} does not exist`))),
  redisUrl: Config.string("REDIS_URL").pipe(Config.withDefault("redis://127.0.0.1:6379")),
  redisCluster: Config.boolean("REDIS_CLUSTER").pipe(Config.withDefault(false)),
  redisWaitReplicas: Config.option(Config.integer("MPLP_REDIS_WAIT_REPLICAS").pipe(
    Config.validate({ message: "must be between 0 and 16", validation: (n) => n >= 0 && n <= 16 })
  )),
  redisWaitTimeoutMs: positiveInt("MPLP_REDIS_WAIT_TIMEOUT_MS", 1000),
  queuePrefix: Config.string("MPLP_QUEUE_PREFIX").pipe(
    Config.validate({ message: "must be letters, digits, '-', '_' or ':'", validation: (s) => /^[\w:-]+$/.test(s) }),
    Config.withDefault("mplp")
  ),
  adminToken: Config.option(
    Config.string("MPLP_ADMIN_TOKEN").pipe(
      Config.validate({ message: "must be at least 32 characters (e.g. `openssl rand -hex 32`)", validation: (s) => s.length >= 32 }),
      Config.map(Redacted.make)
    )
  ),
  logLevel: Config.string("LOG_LEVEL").pipe(
    Config.mapOrFail((s) => {
      const level = LEVELS[s.toLowerCase()]
      return level === undefined
        ? Either.left(ConfigError.InvalidData([], `must be one of ${Object.keys(LEVELS).join(", ")}, not "${s}"`))
        : Either.right(level)
    }),
    Config.withDefault(LogLevel.Info)
  ),
  logFormat: Config.literal("json", "pretty", "auto")("LOG_FORMAT").pipe(Config.withDefault("auto" as const)),
  maxBodyBytes: positiveInt("MPLP_MAX_BODY_BYTES", 8 * 1024 * 1024),
  tenantsDir: Config.string("MPLP_TENANTS_DIR").pipe(Config.withDefault("./tenants")),
  otlpEndpoint: Config.option(urlWithScheme("OTEL_EXPORTER_OTLP_ENDPOINT", ["http:", "https:"])),
  serviceName: Config.string("OTEL_SERVICE_NAME").pipe(Config.withDefault("mplp-trace")),
  selfTenant: Config.option(
    Config.string("MPLP_SELF_TENANT").pipe(
      Config.validate({ message: "must be a tenant id (1-63 characters of a-z, 0-9, '-' or '_')", validation: (s) => /^[a-z0-9][a-z0-9_-]{0,62}$/.test(s) })
    )
  ),
  aggregateRefreshSeconds: positiveInt("MPLP_AGGREGATE_REFRESH_SECONDS", 30),
  allowPrivateWebhooks: Config.boolean("MPLP_ALLOW_PRIVATE_WEBHOOKS").pipe(Config.withDefault(false)),
  maxBacklog: positiveInt("MPLP_MAX_BACKLOG", 20_000),
  jobLockMs: positiveInt("MPLP_JOB_LOCK_MS", 30_000),
  shutdownGraceMs: Config.integer("MPLP_SHUTDOWN_GRACE_MS").pipe(
    Config.validate({ message: "must be between 0 and 8000 ms (shutdown must finish within 10 s)", validation: (n) => n >= 0 && n <= 8000 }),
    Config.withDefault(1000)
  ),
  dbPoolMax: positiveInt("MPLP_DB_POOL_MAX", 10),
  dbCopyStreams: positiveInt("MPLP_DB_COPY_STREAMS", 1),
  dbIdleMs: positiveInt("MPLP_DB_IDLE_MS", 10_000),
  embeddedDbPort: Config.option(Config.port("MPLP_EMBEDDED_DB_PORT")),
  authMaxFailures: positiveInt("MPLP_AUTH_MAX_FAILURES", 20),
  authFailureWindowSeconds: positiveInt("MPLP_AUTH_FAILURE_WINDOW_SECONDS", 60),
  trustedProxies: addressList("MPLP_TRUSTED_PROXIES"),
  metricsToken: optional("MPLP_METRICS_TOKEN", (s) => Either.right(Redacted.make(s))),
  secretKey: optional("MPLP_SECRET_KEY", (s) => {
    const k = parseSecretKey(s)
    return k === undefined ? Either.left(SECRET_KEY_MESSAGE) : Either.right(Redacted.make(k))
  }),
  secretKeysPrevious: secretKeyList("MPLP_SECRET_KEY_PREVIOUS"),
  eventMaxAgeSeconds: positiveInt("MPLP_EVENT_MAX_AGE_SECONDS", 30 * 86_400),
  eventMaxFutureSeconds: Config.integer("MPLP_EVENT_MAX_FUTURE_SECONDS").pipe(
    Config.validate({ message: "must be between 0 and 86400 seconds", validation: (n) => n >= 0 && n <= 86_400 }),
    Config.withDefault(600)
  ),
  queryTimeoutMs: positiveInt("MPLP_QUERY_TIMEOUT_MS", 10_000),
  maxRawRangeHours: positiveInt("MPLP_MAX_RAW_RANGE_HOURS", 24),
  windowRetainSeconds: positiveInt("MPLP_WINDOW_RETAIN_SECONDS", 120),
  windowHoldSeconds: positiveInt("MPLP_WINDOW_HOLD_SECONDS", 60),
  seriesIdleSeconds: positiveInt("MPLP_SERIES_IDLE_SECONDS", 3600),
  queuePartitions: Config.integer("MPLP_QUEUE_PARTITIONS").pipe(
    Config.validate({ message: "must be between 1 and 256", validation: (n) => n >= 1 && n <= 256 }),
    Config.withDefault(8)
  ),
  traceActorIdleMs: positiveInt("MPLP_TRACE_ACTOR_IDLE_MS", 30_000)
})

export const appConfig: Config.Config<AppSettings> = settings.pipe(
  Config.mapOrFail((s): Either.Either<AppSettings, ConfigError.ConfigError> => {
    if (Option.isSome(s.databaseReadUrl) && Option.isNone(s.databaseUrl)) {
      return Either.left(ConfigError.InvalidData(["DATABASE_READ_URL"], "needs DATABASE_URL: a read replica is a replica of a PostgreSQL server, not of the embedded database"))
    }
    const { redisCluster, redisUrl, redisWaitReplicas, ...rest } = s
    return Either.match(parseRedisTarget(redisUrl, redisCluster), {
      onLeft: (message) => Either.left(ConfigError.InvalidData(["REDIS_URL"], message)),
      onRight: (target) => Either.right({
        ...rest,
        redisUrl: Redacted.make(redisUrl),
        redisTarget: Redacted.make(target),
        redisWaitReplicas: Option.getOrElse(redisWaitReplicas, () => (target._tag === "Cluster" ? 1 : 0))
      })
    })
  })
)

export class AppConfig extends Context.Tag("config/AppConfig")<AppConfig, AppSettings>() {
  static readonly layer = Layer.effect(AppConfig, appConfig)
  static readonly make = (settings: Partial<AppSettings>) =>
    Layer.effect(AppConfig, Effect.map(appConfig, (base) => ({ ...base, ...settings })))
}

/** One line for an operator: which variable is wrong and why, no stack trace. */
export const describeConfigError = (error: ConfigError.ConfigError): string => {
  const lines: Array<string> = []
  const walk = (e: ConfigError.ConfigError): void => {
    switch (e._op) {
      case "And":
      case "Or":
        walk(e.left)
        walk(e.right)
        return
      case "InvalidData":
      case "MissingData":
      case "SourceUnavailable":
      case "Unsupported":
        lines.push(`${e.path.join(".")}: ${e.message}`)
    }
  }
  walk(error)
  return `invalid configuration: ${[...new Set(lines)].join("; ")}`
}

/**
 * The configuration read before the service is loaded (workers/all.ts, workers/run.ts): a bad setting
 * is one line and exit 1 at once, not after importing every module (~2 s of CPU) to find out.
 */
export const preflightConfig = (): void => {
  const result = Effect.runSyncExit(Effect.either(appConfig))
  if (result._tag === "Success" && Either.isLeft(result.value)) {
    process.stderr.write(`mplp-trace: ${describeConfigError(result.value.left)}\n`)
    process.exit(1)
  }
}
