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

/** The BullMQ queue name of an ingest partition's bulk lane (same prefix, hence slot, as its main lane). */
export const BULK_QUEUE = "ingest-bulk"

/**
 * The ingest stage's queue (and the aggregate stage's, see `open`), split in partitions: a tenant's batches all go to partition
 * FNV-1a(tenant) mod N, each partition is its own BullMQ queue in its own hash slot, and the workers
 * consume every partition side by side, so a quiet tenant's batch waits behind its own partition's
 * backlog only. Inside a partition, the ingest stage has two lanes, each a queue with its own workers:
 * a tenant already backlogged (src/ingest/Backlog.ts, BULK_AFTER) queues in the bulk lane, so the main
 * lane's workers stay free for the partition's other tenants. Job ids start with the tenant id, so a job
 * is found without asking every partition.
 */
export class IngestPartitions {
  /** Every queue: each partition's main lane (index n: partition n), then the bulk lanes. */
  readonly queues: ReadonlyArray<Queue>
  /** Each partition's bulk lane (the ingest stage's; none for the aggregate stage). */
  readonly bulk: ReadonlyArray<Queue>
  /** The connection the queues share, when they were given one (not connection options). */
  readonly client: RedisClient | undefined
  private readonly partitions: number
  constructor(main: ReadonlyArray<Queue>, bulk: ReadonlyArray<Queue>, client?: RedisClient) {
    this.queues = [...main, ...bulk]
    this.bulk = bulk
    this.partitions = main.length
    this.client = client
  }

  /**
   * The partitions of the `name` stage's queue: "ingest" (main and bulk lanes), or "aggregate" (one
   * lane; split the same way: a tenant's aggregate jobs are in the same partition, hence the same slot,
   * as its ingest jobs).
   */
  static open(connection: ConnectionOptions, prefix: string, partitions: number, name: "ingest" | "aggregate" = "ingest") {
    const keys = redisKeys(prefix)
    const lane = (queueName: string) =>
      Array.from({ length: partitions }, (_, n) => openQueue(queueName, { connection, prefix: keys.partition(n), defaultJobOptions: partitionJobOptions(partitions) }))
    return new IngestPartitions(
      lane(name),
      name === "ingest" ? lane(BULK_QUEUE) : [],
      connection instanceof Redis || connection instanceof Cluster ? connection : undefined
    )
  }

  /**
   * Waits until `replicas` replicas hold what this process has written to the queue so far (its
   * enqueue of `jobId` included): Redis WAIT on the connection that wrote it, to the node of the
   * partition's slot; then checks that the job is there (see waitForReplicas).
   */
  replicated(queue: Queue, jobId: string, replicas: number, timeoutMs: number) {
    if (this.client === undefined) return Promise.reject(new Error("the ingest partitions were opened without a shared connection"))
    return waitForReplicas(this.client, queue.toKey(jobId), replicas, timeoutMs)
  }

  /** The tenant's partition (its main lane). */
  of(tenantId: string): Queue {
    return this.queues[partitionOf(tenantId, this.partitions)] as Queue
  }

  /** The tenant's partition's queue of a lane (the main lane when the partitions have no bulk lane). */
  laneOf(tenantId: string, lane: "main" | "bulk"): Queue {
    return lane === "bulk" && this.bulk.length > 0 ? this.bulk[partitionOf(tenantId, this.partitions)] as Queue : this.of(tenantId)
  }

  /** The queues a job id may be in (ids are `<tenant>.<…>`): its tenant's partition, both lanes. */
  ofJob(jobId: string): ReadonlyArray<Queue> {
    const dot = jobId.indexOf(".")
    const tenantId = dot < 0 ? jobId : jobId.slice(0, dot)
    return this.bulk.length > 0 ? [this.laneOf(tenantId, "main"), this.laneOf(tenantId, "bulk")] : [this.of(tenantId)]
  }

  add<D extends { readonly tenantId: string }>(name: string, data: D, opts?: Parameters<Queue["add"]>[2]) {
    return this.of(data.tenantId).add(name, data, opts)
  }

  addBulk<D extends { readonly tenantId: string }>(jobs: ReadonlyArray<{ name: string; data: D; opts?: Parameters<Queue["add"]>[2] }>) {
    return Promise.all(jobs.map((j) => this.add(j.name, j.data, j.opts)))
  }

  async getJob(jobId: string): Promise<Job | undefined> {
    for (const queue of this.ofJob(jobId)) {
      const job = await queue.getJob(jobId)
      if (job !== undefined) return job
    }
    return undefined
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

  /** Workers listening on the partitions' main lanes (every partition has the same ones). */
  async getWorkersCount(): Promise<number> {
    return Math.max(0, ...(await Promise.all(this.queues.slice(0, this.partitions).map((q) => q.getWorkersCount()))))
  }

  close() {
    return Promise.all(this.queues.map(closeWhenStarted)).then(() => undefined)
  }
}
