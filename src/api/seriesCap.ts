import type { Context } from "effect"
import { Effect } from "effect"
import { seriesKeyOf } from "../domain/pipeline.ts"
import { SeriesLimiter, seriesLimitMessage } from "../tenants/SeriesLimiter.ts"
import type { TenantStore } from "../tenants/TenantStore.ts"
import type { Telemetry } from "../telemetry/Telemetry.ts"

export interface Capped<P> {
  readonly kept: ReadonlyArray<P>
  readonly rejected: number
  readonly message: string | undefined
}

/**
 * Refuses the metric points of new series over the tenant's `limits.maxActiveSeries`, before they are
 * queued: the response counts them (native `rejected`, OTLP `partialSuccess`).
 */
export const seriesCap = (
  store: Context.Tag.Service<typeof TenantStore>,
  limiter: Context.Tag.Service<typeof SeriesLimiter>,
  telemetry: Context.Tag.Service<typeof Telemetry>
) =>
  <P extends { readonly name: string; readonly serviceName: string }>(tenantId: string, points: ReadonlyArray<P>) =>
    Effect.gen(function* () {
      const settings = yield* store.getSettings(tenantId).pipe(Effect.orDie)
      const keyOf = (p: P) => seriesKeyOf({ metricName: p.name, serviceName: p.serviceName, operation: "" })
      const refused = yield* limiter.admit(tenantId, points.map(keyOf), settings.limits.maxActiveSeries)
      if (refused.size === 0) return { kept: points, rejected: 0, message: undefined } satisfies Capped<P>
      const kept = points.filter((p) => !refused.has(keyOf(p)))
      const rejected = points.length - kept.length
      telemetry.seriesRejected.add(rejected, { where: "api" })
      return { kept, rejected, message: seriesLimitMessage(rejected, refused.size, settings.limits.maxActiveSeries) } satisfies Capped<P>
    })

export { SeriesLimiter }
