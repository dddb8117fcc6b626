import { Queue } from "bullmq"
import { Redis } from "ioredis"
import { bullPrefix } from "../../src/queues/Queues.ts"
import { eventually } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"

/** The test app's ingest queue, seen from outside the app (as another process would). */
export const withIngestQueue = async <A>(app: TestApp, f: (queue: Queue) => Promise<A>): Promise<A> => {
  const connection = new Redis("redis://127.0.0.1:6379", { maxRetriesPerRequest: null })
  const queue = new Queue("ingest", { connection, prefix: bullPrefix(app.prefix) })
  try {
    return await f(queue)
  } finally {
    await queue.close()
    await connection.quit()
  }
}

/** Resolves once no ingest job is waiting, delayed or running: every accepted batch has been applied. */
export const drained = (app: TestApp, timeoutMs?: number) =>
  withIngestQueue(app, (queue) =>
    eventually(async () => {
      const counts = await queue.getJobCounts("wait", "active", "delayed", "prioritized", "waiting-children")
      return Object.values(counts).every((n) => n === 0) ? counts : undefined
    }, timeoutMs))
