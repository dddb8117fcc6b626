import { NodeRuntime } from "@effect/platform-node"
import { Cause, ConfigError, Effect, Exit, Layer, Option } from "effect"
import { appLayer, LoggingLive } from "./App.ts"
import type { AppOptions } from "./App.ts"
import { AppConfig, describeConfigError } from "./config/AppConfig.ts"
import { messageOf } from "./domain/errors.ts"

/** Start-up failures an operator can act on: one line, no stack trace. */
const startupMessage = (cause: Cause.Cause<unknown>): string => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const e = failure.value
    if (ConfigError.isConfigError(e)) return describeConfigError(e)
    if (typeof e === "object" && e !== null && "_tag" in e) {
      switch (e._tag) {
        case "RedisUnavailable":
        case "MigrationError":
          return messageOf(e)
        case "DbError":
          return `database: ${messageOf(e)}`
      }
    }
    return messageOf(e)
  }
  return Cause.pretty(cause)
}

/** Runs one process of the service until SIGTERM/SIGINT; every resource is closed by its finalizer. */
export const runProcess = (options: AppOptions) => runLayer(appLayer(options))

/** Runs a layer as the process: configuration and logging provided, failures as one line on stderr. */
export const runLayer = <E>(layer: Layer.Layer<never, E, AppConfig>) => {
  const program = Layer.launch(layer.pipe(Layer.provide(LoggingLive), Layer.provide(AppConfig.layer)))
  NodeRuntime.runMain(
    program.pipe(
      Effect.onExit((exit) =>
        Exit.isFailure(exit) && !Cause.isInterruptedOnly(exit.cause)
          ? Effect.sync(() => {
              process.stderr.write(`mplp-trace: ${startupMessage(exit.cause)}\n`)
            })
          : Effect.void
      )
    ),
    { disableErrorReporting: true, disablePrettyLogger: true }
  )
}
