import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Layer } from "effect"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { makeIngestPartitions, makePartitionedProducer, makeProducer, runWorker } from "../../src/queues/Queues.ts"
import { RedisConnection } from "../../src/queues/Redis.ts"
import { AggregateJob, DetectJob } from "../../src/domain/pipeline.ts"
import { testEnv } from "../support/harness.ts"

// `npm start` stopped soon after it started (CI's drain test: a SIGTERM once the backlog was empty) exited
// with 1: a queue closed before its lazy connection was ready emitted "Connection is closed" as an
// 'error' event nobody listened to, which Node throws; a worker closed that way left two unhandled
// rejections (CI, a service closed a second after its start). As in the service, the Redis layer outlives
// the scope that owns the queues and the worker.
const env = testEnv()
const layer = RedisConnection.Live.pipe(
  Layer.provideMerge(AppConfig.layer),
  Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
)

describe("the service's queues and workers", () => {
  it.live("close cleanly before they were ever used: nothing thrown out of the process", () =>
    Effect.gen(function* () {
      const thrown: Array<string> = []
      const record = (e: unknown) => void thrown.push(e instanceof Error ? e.message : String(e))
      process.on("uncaughtException", record)
      process.on("unhandledRejection", record)
      try {
        for (let i = 0; i < 5; i++) {
          yield* Effect.scoped(Effect.gen(function* () {
            yield* makeIngestPartitions
            yield* makeProducer("detect", DetectJob)
            yield* makePartitionedProducer("aggregate", AggregateJob)
            yield* runWorker({ stage: "detect", schema: DetectJob, concurrency: 2, process: () => Effect.void })
          })).pipe(Effect.provide(layer))
        }
        yield* Effect.sleep("300 millis")
      } finally {
        process.off("uncaughtException", record)
        process.off("unhandledRejection", record)
      }
      expect(thrown).toEqual([])
    }))
})
