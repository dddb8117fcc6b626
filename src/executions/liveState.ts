import { toEpochMs } from "../domain/ids.ts"
import { executionIdOfJob } from "../domain/jobs.ts"
import type { ExecutionFinishJob, ExecutionStartJob, ExecutionUpdateJob } from "../domain/jobs.ts"
import type { LiveChange, LiveExecution } from "../domain/liveViews.ts"

export type ExecutionJob = typeof ExecutionStartJob.Type | typeof ExecutionUpdateJob.Type | typeof ExecutionFinishJob.Type

/** How many of an execution's latest events its live state keeps. */
export const LAST_EVENTS = 5

const iso = (ms: number) => new Date(ms).toISOString()

/** The live state a start creates. */
export const started = (job: typeof ExecutionStartJob.Type): LiveExecution => ({
  executionId: executionIdOfJob(job),
  traceId: job.traceId,
  serviceName: job.request.serviceName,
  operationName: job.request.operationName,
  status: "active",
  progressPercentage: null,
  currentOperation: null,
  metrics: {},
  lastEvents: [],
  startTime: iso(job.startTimeMs),
  updatedAt: iso(job.receivedAtMs)
})

/** The events of an update appended to the last ones, the newest `LAST_EVENTS` kept. */
export const withEvents = (s: LiveExecution, job: ExecutionJob): LiveExecution => {
  if (job._tag !== "execution-update" || (job.update.events ?? []).length === 0) return s
  const added = (job.update.events ?? []).map((e) => ({ eventName: e.eventName, eventType: e.eventType, timestamp: iso(toEpochMs(e.timestamp)) }))
  return { ...s, lastEvents: [...s.lastEvents, ...added].slice(-LAST_EVENTS) }
}

/**
 * One applied step folded into the live state, as the database applied it (see ingest/executions.ts):
 * an update after the end adds events and metrics but changes neither the outcome nor the progress.
 */
export const applyStep = (s: LiveExecution, job: ExecutionJob): LiveExecution => {
  const updatedAt = iso(job.receivedAtMs)
  switch (job._tag) {
    case "execution-start":
      return started(job)
    case "execution-update": {
      const u = job.update
      const running = s.status === "active" || s.status === "paused"
      const next = running
        ? {
          ...s,
          progressPercentage: u.progressPercentage ?? s.progressPercentage,
          currentOperation: u.currentOperation ?? s.currentOperation,
          status: u.status ?? s.status,
          metrics: { ...s.metrics, ...u.metrics }
        }
        : { ...s, metrics: { ...u.metrics, ...s.metrics } }
      return withEvents({ ...next, updatedAt }, job)
    }
    case "execution-finish": {
      const r = job.result
      return {
        ...s,
        status: r.success ? "completed" : "failed",
        progressPercentage: r.success ? 100 : s.progressPercentage,
        currentOperation: null,
        metrics: { ...s.metrics, ...r.finalMetrics },
        updatedAt
      }
    }
  }
}

export const changeKind = (job: ExecutionJob): LiveChange["kind"] =>
  job._tag === "execution-start" ? "start" : job._tag === "execution-update" ? "update" : "finish"
