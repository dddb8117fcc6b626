import { Cause, HashMap, Layer, List, Logger, LogLevel } from "effect"
import { pino } from "pino"
import type { Logger as PinoLogger } from "pino"
import pretty from "pino-pretty"

const pinoLevel = (level: LogLevel.LogLevel): "trace" | "debug" | "info" | "warn" | "error" | "fatal" => {
  switch (level._tag) {
    case "All":
    case "Trace":
      return "trace"
    case "Debug":
      return "debug"
    case "Info":
      return "info"
    case "Warning":
      return "warn"
    case "Error":
      return "error"
    default:
      return "fatal"
  }
}

export const makePino = (format: "json" | "pretty" | "auto", level: LogLevel.LogLevel, name: string): PinoLogger => {
  const usePretty = format === "pretty" || (format === "auto" && process.stdout.isTTY === true)
  const options = { name, level: pinoLevel(level), base: { pid: process.pid } }
  return usePretty ? pino(options, pretty({ colorize: true, sync: true })) : pino(options)
}

/** Effect's Logger backed by pino: annotations and spans become fields; causes are pretty-printed once. */
export const pinoLogger = (log: PinoLogger) =>
  Logger.make<unknown, void>(({ annotations, cause, logLevel, message, spans, date }) => {
    const fields: Record<string, unknown> = {}
    for (const [k, v] of HashMap.toEntries(annotations)) fields[k] = v
    if (!List.isNil(spans)) {
      for (const span of spans) fields[`span.${span.label}`] = `${date.getTime() - span.startTime}ms`
    }
    if (!Cause.isEmpty(cause)) fields.cause = Cause.pretty(cause, { renderErrorCause: true })
    const parts = Array.isArray(message) ? message : [message]
    const text = parts.map((m) => (typeof m === "string" ? m : safeJson(m))).join(" ")
    log[pinoLevel(logLevel)](fields, text)
  })

const safeJson = (v: unknown): string => {
  try {
    return JSON.stringify(v) ?? String(v)
  } catch {
    return String(v)
  }
}

export const loggerLayer = (format: "json" | "pretty" | "auto", level: LogLevel.LogLevel, name = "mplp-trace") =>
  Layer.merge(Logger.replace(Logger.defaultLogger, pinoLogger(makePino(format, level, name))), Logger.minimumLogLevel(level))
