import type { JobsOptions } from "bullmq"

/** At-least-once with a retry budget; a job that exhausts it stays in `failed` (the dead-letter state). */
export const defaultJobOptions: JobsOptions = {
  attempts: 8,
  backoff: { type: "exponential", delay: 500 },
  // Completed jobs only serve job-id dedupe of a resubmission (idempotency proper is the 24 h Redis marker):
  // a few, briefly, so a batch of thousands of spans is not kept in Redis for an hour.
  removeOnComplete: { age: 600, count: 1_000 },
  removeOnFail: { age: 7 * 24 * 3600 }
}
