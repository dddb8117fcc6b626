import { Duration, Effect, Schedule } from "effect"

export interface SweepOptions {
  /** Wait one period before the first round (the work was just done at start-up, or need not be). */
  readonly delayFirst?: boolean
  /**
   * Make spans. Off by default: a sweep that runs every second would be a trace a second in the
   * service's own traces (MPLP_SELF_TENANT); the jobs a sweep enqueues still start traces of their own.
   */
  readonly traced?: boolean
}

/**
 * The periodic sweep of a stage (crash recovery, wall-clock window closing, maintenance): `body` every
 * `every` for the life of the scope. A failed round is logged as "<name> failed" and the next one runs.
 */
export const sweep = <R>(name: string, every: Duration.DurationInput, body: Effect.Effect<unknown, unknown, R>, options: SweepOptions = {}) => {
  const caught = body.pipe(Effect.catchAllCause((cause) => Effect.logWarning(`${name} failed`, cause)))
  // Traced ones only when the service's spans are exported at all (Telemetry.Live): never turned on here.
  const rounds = (options.traced === true ? caught : Effect.withTracerEnabled(caught, false)).pipe(Effect.repeat(Schedule.spaced(every)))
  return Effect.forkScoped(options.delayFirst === true ? Effect.delay(rounds, every) : rounds)
}
