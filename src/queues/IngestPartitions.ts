import type { ConnectionOptions, Job, JobType, Queue } from "bullmq"
import { Cluster, Redis } from "ioredis"
import { closeWhenStarted, openQueue } from "./bullQueue.ts"
import { waitForReplicas } from "./Redis.ts"
import type { RedisClient } from "./Redis.ts"
import { partitionOf, redisKeys } from "./keys.ts"
import { defaultJobOptions } from "./jobOptions.ts"

/**
 * The completed jobs kept for job-id dedupe are shared out among the partitions: N partitions keep as
 * many batches in Redis as the single queue did, not N times as many.
 */
const partitionJobOptions = (partitions: number) => ({
  ...defaultJobOptions,
  removeOnComplete: { age: 600, count: Math.max(50, Math.ceil(1_000 / partitions)) }
})

/** Ingest partitions when MPLP_QUEUE_PARTITIONS is not set. */
export const DEFAULT_PARTITIONS = 8

/**
 * The ingest stage's queue (and the aggregate stage's, see `open`), split in partitions: a tenant's batches all go to partition
 * FNV-1a(tenant) mod N (one FIFO per partition: a tenant's order is kept as before), each partition
 * is its own BullMQ queue in its own hash slot, and the workers consume every partition side by side,
 * so a quiet tenant's batch waits behind its own partition's backlog only. Job ids start with the
 * tenant id, so a job is found without asking every partition.
 */
export class IngestPartitions {
  readonly queues: ReadonlyArray<Queue>
  /** The connection the queues share, when they were given one (not connection options). */
  readonly client: RedisClient | undefined
  constructor(queues: ReadonlyArray<Queue>, client?: RedisClient) {
    this.queues = queues
    this.client = client
  }

  /**
   * The partitions of the `name` stage's queue: "ingest", or "aggregate" (its queue is split the same way:
   * a tenant's aggregate jobs are in the same partition, hence the same slot, as its ingest jobs).
   */
  static open(connection: ConnectionOptions, prefix: string, partitions: number, name: "ingest" | "aggregate" = "ingest") {
    const keys = redisKeys(prefix)
    return new IngestPartitions(
      Array.from({ length: partitions }, (_, n) => openQueue(name, { connection, prefix: keys.partition(n), defaultJobOptions: partitionJobOptions(partitions) })),
      connection instanceof Redis || connection instanceof Cluster ? connection : undefined
    )
  }

  /**
   * Waits until `replicas` replicas hold what this process has written to the tenant's partition so
   * far (its enqueue of `jobId` included): Redis WAIT on the connection that wrote it, to the node of the
   * partition's slot; then checks that the job is there (see waitForReplicas).
   */
  replicated(tenantId: string, jobId: string, replicas: number, timeoutMs: number) {
    if (this.client === undefined) return Promise.reject(new Error("the ingest partitions were opened without a shared connection"))
    return waitForReplicas(this.client, this.of(tenantId).toKey(jobId), replicas, timeoutMs)
  }

  of(tenantId: string): Queue {
    return this.queues[partitionOf(tenantId, this.queues.length)] as Queue
  }

  /** The queue a job id belongs to (ids are `<tenant>.<…>`). */
  ofJob(jobId: string): Queue {
    const dot = jobId.indexOf(".")
    return this.of(dot < 0 ? jobId : jobId.slice(0, dot))
  }

  add<D extends { readonly tenantId: string }>(name: string, data: D, opts?: Parameters<Queue["add"]>[2]) {
    return this.of(data.tenantId).add(name, data, opts)
  }

  addBulk<D extends { readonly tenantId: string }>(jobs: ReadonlyArray<{ name: string; data: D; opts?: Parameters<Queue["add"]>[2] }>) {
    return Promise.all(jobs.map((j) => this.add(j.name, j.data, j.opts)))
  }

  getJob(jobId: string): Promise<Job | undefined> {
    return this.ofJob(jobId).getJob(jobId)
  }

  async getJobs(types: Array<JobType> | JobType, start?: number, end?: number): Promise<Array<Job>> {
    return (await Promise.all(this.queues.map((q) => q.getJobs(types, start, end)))).flat()
  }

  async getJobCounts(...types: Array<JobType>): Promise<Record<string, number>> {
    const out: Record<string, number> = {}
    for (const c of await Promise.all(this.queues.map((q) => q.getJobCounts(...types)))) {
      for (const [k, v] of Object.entries(c)) out[k] = (out[k] ?? 0) + v
    }
    return out
  }

  async getJobCountByTypes(...types: Array<JobType>): Promise<number> {
    return (await Promise.all(this.queues.map((q) => q.getJobCountByTypes(...types)))).reduce((a, b) => a + b, 0)
  }

  async getFailedCount(): Promise<number> {
    return this.getJobCountByTypes("failed")
  }

  async getFailed(start?: number, end?: number): Promise<Array<Job>> {
    return (await Promise.all(this.queues.map((q) => q.getFailed(start, end)))).flat()
  }

  async getCompleted(start?: number, end?: number): Promise<Array<Job>> {
    return (await Promise.all(this.queues.map((q) => q.getCompleted(start, end)))).flat()
  }

  /** Workers listening on the partitions (every partition has the same ones). */
  async getWorkersCount(): Promise<number> {
    return Math.max(0, ...(await Promise.all(this.queues.map((q) => q.getWorkersCount()))))
  }

  close() {
    return Promise.all(this.queues.map(closeWhenStarted)).then(() => undefined)
  }
}
