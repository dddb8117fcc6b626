import { toEpochMs } from "../domain/ids.ts"
import type { MetricsRequest } from "../domain/ingest.ts"
import type { MetricRow } from "../domain/jobs.ts"

/** Native metric points as rows; a point without a time takes the time the request was accepted. */
export const pointsFromRequest = (req: MetricsRequest, receivedAtMs: number): Array<MetricRow> =>
  req.points.map((p) => ({
    name: p.name,
    value: p.value,
    timeMs: p.time === undefined ? receivedAtMs : toEpochMs(p.time),
    serviceName: p.serviceName ?? "",
    traceId: p.traceId ?? null,
    attributes: p.attributes ?? {}
  }))
