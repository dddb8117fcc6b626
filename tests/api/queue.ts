import { Redis } from "ioredis"
import { DEFAULT_PARTITIONS, IngestPartitions } from "../../src/queues/IngestPartitions.ts"
import { eventually } from "../support/harness.ts"
import type { TestApp } from "../support/harness.ts"

/** The app's ingest (or aggregate) partitions (MPLP_QUEUE_PARTITIONS), opened as another process would. */
export const openIngest = (connection: Redis, env: Readonly<Record<string, string>>, name: "ingest" | "aggregate" = "ingest") =>
  IngestPartitions.open(connection, env.MPLP_QUEUE_PREFIX ?? "", Number(env.MPLP_QUEUE_PARTITIONS ?? DEFAULT_PARTITIONS), name)

/** The test app's ingest queue (every partition), seen from outside the app (as another process would). */
export const withIngestQueue = async <A>(app: TestApp, f: (queue: IngestPartitions) => Promise<A>): Promise<A> => {
  const connection = new Redis("redis://127.0.0.1:6379", { maxRetriesPerRequest: null })
  const queue = openIngest(connection, app.env)
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
