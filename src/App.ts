import { Duration, Effect, Layer } from "effect"
import { AggregateStage } from "./aggregation/AggregateStage.ts"
import { AlertStage } from "./alerting/AlertStage.ts"
import { ExecutionFactsLive } from "./query/executionFacts.ts"
import { Draining, DrainOnShutdown } from "./api/drain.ts"
import { HttpServerLive } from "./api/server.ts"
import { AppConfig } from "./config/AppConfig.ts"
import { AggregateRefresher } from "./db/AggregateRefresher.ts"
import { Db } from "./db/Db.ts"
import { migrateFromDir } from "./db/Migrator.ts"
import { DetectStage } from "./detection/DetectStage.ts"
import { IngestQueue } from "./ingest/IngestQueue.ts"
import { IngestStage } from "./ingest/IngestStage.ts"
import { ExecutionLifecycle } from "./executions/ExecutionLifecycle.ts"
import { ExecutionReader } from "./query/ExecutionReader.ts"
import type { Stage } from "./queues/Queues.ts"
import { RedisConnection } from "./queues/Redis.ts"
import { ensureDemoTenant } from "./tenants/bootstrap.ts"
import { Provisioner } from "./tenants/Provisioner.ts"
import { SeriesLimiter } from "./tenants/SeriesLimiter.ts"
import { Quotas } from "./tenants/Quotas.ts"
import { TenantStore } from "./tenants/TenantStore.ts"
import { loggerLayer } from "./telemetry/Logger.ts"
import { SelfExport } from "./telemetry/SelfExport.ts"
import { Telemetry } from "./telemetry/Telemetry.ts"

export interface AppOptions {
  /** Serve the HTTP API in this process. */
  readonly api: boolean
  /** Pipeline stages whose workers run in this process. */
  readonly stages: ReadonlyArray<Stage>
  readonly concurrency: number
  /** Create a demo tenant (and print its key) when the database has no tenant. */
  readonly demoTenant: boolean
}

/** Logging from the configuration, so LOG_LEVEL and LOG_FORMAT apply from the first line. */
export const LoggingLive = Layer.unwrapEffect(Effect.map(AppConfig, (c) => loggerLayer(c.logFormat, c.logLevel)))

/** The database, migrated before anyone uses it. */
export const MigratedDb = Layer.effectDiscard(migrateFromDir()).pipe(Layer.provideMerge(Db.Live))

/** Db, Redis, telemetry and tenants: what every process of the service stands on. */
export const Infrastructure = Layer.mergeAll(TenantStore.Live, Quotas.Live, SeriesLimiter.Live, ExecutionReader.Live, AggregateRefresher.Live).pipe(
  Layer.provideMerge(Layer.mergeAll(MigratedDb, RedisConnection.Live, Telemetry.Live))
)

const stageLayer = (stage: Stage, concurrency: number) => {
  switch (stage) {
    case "ingest":
      // The ingest stage hands execution steps to the lifecycle's actors; the lifecycle is wired here, not by the stage.
      return IngestStage.layer(concurrency).pipe(Layer.provide(ExecutionLifecycle))
    case "aggregate":
      return AggregateStage.layer(concurrency)
    case "detect":
      return DetectStage.layer(concurrency)
    case "alert":
      // Deliveries wait on other tenants' endpoints: more slots, so one slow endpoint cannot hold them all.
      return AlertStage.layer(concurrency * 4).pipe(Layer.provide(ExecutionFactsLive))
  }
}

/** The HTTP API with its queue producer. */
export const ApiLayer = Layer.unwrapEffect(
  Effect.map(AppConfig, (c) =>
    DrainOnShutdown(Duration.millis(c.shutdownGraceMs)).pipe(Layer.provideMerge(HttpServerLive), Layer.provide(IngestQueue.Live), Layer.provide(Draining.Live))
  )
)

/** One process: the API and/or some stages, on shared infrastructure (built once, shared by all). */
export const appLayer = (options: AppOptions) => {
  const components = Layer.mergeAll(
    options.api ? ApiLayer : Layer.empty,
    ...options.stages.map((s) => stageLayer(s, options.concurrency)),
    Provisioner.pipe(Layer.provide(options.stages.includes("ingest") ? ExecutionLifecycle : Layer.empty)),
    SelfExport.Live,
    // Beside the API, after it: the banner's console link needs the port it is bound to.
    options.demoTenant ? Layer.effectDiscard(ensureDemoTenant).pipe(Layer.provide(options.api ? ApiLayer : Layer.empty)) : Layer.empty
  )
  return components.pipe(Layer.provideMerge(Infrastructure))
}
