import { Effect, Option, Tracer } from "effect"

// W3C trace context (https://www.w3.org/TR/trace-context/) as a job carries it: the producing span's
// `traceparent`, so the stage that takes the job continues the producer's trace.

const TRACEPARENT = /^00-((?!0{32})[0-9a-f]{32})-((?!0{16})[0-9a-f]{16})-([0-9a-f]{2})$/

/** The traceparent of the current span; none outside a span, or in a span that is not recorded (tracing off). */
export const currentTraceparent: Effect.Effect<string | undefined> = Effect.map(Effect.option(Effect.currentParentSpan), (span) => {
  if (Option.isNone(span) || !span.value.sampled) return undefined
  const { traceId, spanId } = span.value
  const traceparent = `00-${traceId}-${spanId}-01`
  return TRACEPARENT.test(traceparent) ? traceparent : undefined
})

/** The span a traceparent names, as the parent of a span made here; undefined when it is absent or malformed. */
export const spanOfTraceparent = (traceparent: unknown): Tracer.ExternalSpan | undefined => {
  if (typeof traceparent !== "string") return undefined
  const m = TRACEPARENT.exec(traceparent)
  if (m === null) return undefined
  return Tracer.externalSpan({ traceId: m[1] ?? "", spanId: m[2] ?? "", sampled: (parseInt(m[3] ?? "0", 16) & 1) === 1 })
}

/** A job's `traceparent` field, read before the payload is decoded (any stage's job may carry one). */
export const traceparentOfJob = (data: unknown): unknown =>
  typeof data === "object" && data !== null && "traceparent" in data ? data.traceparent : undefined

/** A job's `tenantId` field, read before the payload is decoded. */
export const tenantOfJobData = (data: unknown): unknown =>
  typeof data === "object" && data !== null && "tenantId" in data ? data.tenantId : undefined

/** Most links one span takes from the producers of a job that merged their work. */
export const MAX_LINKS = 64

/**
 * Links the current span to the spans that produced what a merged job took (one BullMQ job applying
 * several producers' work has one parent, and a link to each of them): malformed, repeated and
 * parent traceparents are left out, at most MAX_LINKS.
 */
export const linkProducers = (traceparents: Iterable<string | null | undefined>) =>
  Effect.flatMap(Effect.option(Effect.currentSpan), (current) =>
    Effect.sync(() => {
      if (Option.isNone(current)) return
      const parent = Option.getOrUndefined(current.value.parent)
      const seen = new Set<string>()
      const links: Array<Tracer.SpanLink> = []
      for (const tp of traceparents) {
        const span = spanOfTraceparent(tp)
        if (span === undefined || seen.has(span.spanId) || span.spanId === parent?.spanId || links.length >= MAX_LINKS) continue
        seen.add(span.spanId)
        links.push({ _tag: "SpanLink", span, attributes: {} })
      }
      if (links.length > 0) current.value.addLinks(links)
    })
  )
