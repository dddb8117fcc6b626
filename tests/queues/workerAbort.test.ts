import { describe, expect, it } from "@effect/vitest"
import { Queue } from "bullmq"
import { ConfigProvider, Deferred, Effect, Layer, Ref } from "effect"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { DetectJob } from "../../src/domain/pipeline.ts"
import { runWorker } from "../../src/queues/Queues.ts"
import { RedisConnection } from "../../src/queues/Redis.ts"
import { deletePrefix, testEnv } from "../support/harness.ts"

// BullMQ's abort signal (worker.cancelJob) interrupts the job's fiber: what it holds is released (a
// transaction would roll back) and the job fails for a retry instead of running on unseen.
const env = testEnv()
const layer = RedisConnection.Live.pipe(
  Layer.provideMerge(AppConfig.layer),
  Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))))
)

describe("a stage worker", () => {
  it.scopedLive("stops a job's work when BullMQ cancels it, and the job is failed for a retry", () =>
    Effect.gen(function* () {
      const redis = yield* RedisConnection
      const prefix = `{${env.MPLP_QUEUE_PREFIX}-abort}`
      const started = yield* Deferred.make<void>()
      const released = yield* Ref.make(false)
      const worker = yield* runWorker({
        stage: "detect", prefix, schema: DetectJob, concurrency: 1,
        process: () => Deferred.succeed(started, undefined).pipe(
          Effect.zipRight(Effect.never),
          Effect.onInterrupt(() => Ref.set(released, true))
        )
      })
      const queue = new Queue("detect", { connection: redis.connection("abort-test", false), prefix })
      yield* Effect.addFinalizer(() => Effect.promise(() => queue.close().then(() => deletePrefix(`${env.MPLP_QUEUE_PREFIX}-abort`))))
      const job = yield* Effect.promise(() => queue.add("windows", { tenantId: "t-abort" }, { attempts: 3, backoff: { type: "fixed", delay: 60_000 } }))
      yield* Deferred.await(started)
      expect(worker.cancelJob(job.id ?? "", "operator cancelled")).toBe(true)
      // The job's fiber was interrupted, and the job went back for its next attempt with the reason.
      yield* Effect.promise(async () => {
        for (let i = 0; i < 100; i++) {
          const state = await queue.getJobState(job.id ?? "")
          if (state === "delayed" || state === "failed") return
          await new Promise((r) => setTimeout(r, 50))
        }
        throw new Error("the cancelled job never left the active list")
      })
      expect(yield* Ref.get(released)).toBe(true)
      const after = yield* Effect.promise(() => queue.getJob(job.id ?? ""))
      expect(after?.failedReason).toContain("cancelled: operator cancelled")
    }).pipe(Effect.provide(layer)))
})
