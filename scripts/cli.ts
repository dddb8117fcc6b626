import { Cause, ConfigError, Effect, Exit, Layer, Option } from "effect"
import { AppConfig, describeConfigError } from "../src/config/AppConfig.ts"
import { messageOf } from "../src/domain/errors.ts"
import { loggerLayer } from "../src/telemetry/Logger.ts"

/** Runs a one-shot operator command: its failure is one line on stderr and exit code 1. */
export const runCommand = <A, E>(program: Effect.Effect<A, E, AppConfig>) =>
  Effect.runPromiseExit(
    program.pipe(
      Effect.provide(Layer.merge(AppConfig.layer, Layer.unwrapEffect(Effect.map(AppConfig, (c) => loggerLayer(c.logFormat, c.logLevel))).pipe(Layer.provide(AppConfig.layer))))
    )
  ).then((exit) => {
    // exitCode, not exit(): stdout to a pipe is flushed asynchronously and exit() would cut it off.
    if (Exit.isSuccess(exit)) return
    const failure = Cause.failureOption(exit.cause)
    const message = Option.match(failure, {
      onNone: () => Cause.pretty(exit.cause),
      onSome: (e) => (ConfigError.isConfigError(e) ? describeConfigError(e) : messageOf(e))
    })
    process.stderr.write(`mplp-trace: ${message}\n`)
    process.exitCode = 1
  })
