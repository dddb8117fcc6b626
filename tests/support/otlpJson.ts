import { randomBytes } from "node:crypto"

// OTLP/HTTP JSON trace requests from plain span descriptions: what the console's browser tests and
// benchmark send through the public API (/v1/traces), as any OpenTelemetry exporter would.

export interface SpanSpec {
  readonly spanId: string
  readonly parentSpanId?: string | null
  readonly name: string
  readonly service: string
  readonly startMs: number
  readonly endMs: number
  readonly error?: boolean
  readonly attributes?: Readonly<Record<string, string | number | boolean>>
  readonly events?: ReadonlyArray<{ readonly name: string; readonly timeMs: number; readonly attributes?: Readonly<Record<string, string | number>> }>
}

export const traceId = () => randomBytes(16).toString("hex")
export const spanId = () => randomBytes(8).toString("hex")

const nanos = (ms: number) => (BigInt(Math.round(ms * 1000)) * 1000n).toString()

const value = (v: string | number | boolean) =>
  typeof v === "string" ? { stringValue: v } : typeof v === "boolean" ? { boolValue: v } : Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v }

const attributes = (a: Readonly<Record<string, string | number | boolean>> | undefined) => Object.entries(a ?? {}).map(([key, v]) => ({ key, value: value(v) }))

/** One request body holding every span of `trace`, one resource per service. */
export const otlpTraces = (trace: string, spans: ReadonlyArray<SpanSpec>) => {
  const byService = new Map<string, Array<SpanSpec>>()
  for (const s of spans) byService.set(s.service, [...(byService.get(s.service) ?? []), s])
  return {
    resourceSpans: [...byService].map(([service, list]) => ({
      resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] },
      scopeSpans: [{
        scope: { name: "console-test" },
        spans: list.map((s) => ({
          traceId: trace,
          spanId: s.spanId,
          ...(s.parentSpanId === undefined || s.parentSpanId === null ? {} : { parentSpanId: s.parentSpanId }),
          name: s.name,
          kind: 2,
          startTimeUnixNano: nanos(s.startMs),
          endTimeUnixNano: nanos(s.endMs),
          attributes: attributes(s.attributes),
          events: (s.events ?? []).map((e) => ({ name: e.name, timeUnixNano: nanos(e.timeMs), attributes: attributes(e.attributes) })),
          status: s.error === true ? { code: 2, message: "failed" } : { code: 1 }
        }))
      }]
    }))
  }
}
