import { Effect } from "effect"
import { BadRequest } from "../domain/errors.ts"
import { excerpt } from "../domain/issues.ts"

// Query-string parsing shared by the read endpoints: every bad value is a 400 naming the parameter.

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 } as const

export const badParam = (param: string, message: string) => new BadRequest({ message: `${param}: ${message}`, issues: [{ path: param, message }] })

/** `10s`, `5m`, `1h`, `1d`, `2w` as seconds; undefined when the text is not such a duration. */
export const durationSeconds = (text: string): number | undefined => {
  const m = /^(\d{1,6})([smhdw])$/.exec(text.trim())
  if (m === null) return undefined
  const n = Number(m[1]) * UNIT_SECONDS[m[2] as keyof typeof UNIT_SECONDS]
  return n > 0 ? n : undefined
}

/** Seconds as the shortest duration text: 300 → "5m", 7200 → "2h". */
export const formatDuration = (seconds: number): string => {
  for (const [unit, size] of [["w", 604_800], ["d", 86_400], ["h", 3600], ["m", 60]] as const) {
    if (seconds % size === 0) return `${seconds / size}${unit}`
  }
  return `${seconds}s`
}

/** 9999-12-31T23:59:59.999Z: later times have no ISO-8601 form (and no timestamptz). */
const MAX_TIME_MS = 253_402_300_799_999

/** An ISO-8601 time, epoch milliseconds, `now`, or `now-15m` style, within 1970 … 9999. */
export const parseTime = (param: string, raw: string | undefined, nowMs: number, fallback: number): Effect.Effect<number, BadRequest> => {
  if (raw === undefined || raw === "") return Effect.succeed(fallback)
  const text = raw.trim()
  if (text === "now") return Effect.succeed(nowMs)
  const rel = /^now-(.+)$/.exec(text)
  let ms: number
  if (rel !== null) {
    const s = durationSeconds(rel[1] ?? "")
    if (s === undefined) return Effect.fail(badParam(param, `${excerpt(raw)} is not now-<n><s|m|h|d|w>`))
    ms = nowMs - s * 1000
  } else {
    ms = /^\d{1,16}$/.test(text) ? Number(text) : Date.parse(text)
    if (!Number.isFinite(ms)) return Effect.fail(badParam(param, `${excerpt(raw)} is not an ISO-8601 time, epoch milliseconds or now-<duration>`))
  }
  return ms >= 0 && ms <= MAX_TIME_MS ? Effect.succeed(ms) : Effect.fail(badParam(param, `${excerpt(raw)} is outside 1970 to 9999`))
}

/** `from`/`to` with defaults (`to` = now, `from` = `to` − defaultSpan), refusing an empty or reversed range. */
export const parseRange = (from: string | undefined, to: string | undefined, nowMs: number, defaultSpanMs: number) =>
  Effect.gen(function* () {
    const toMs = yield* parseTime("to", to, nowMs, nowMs)
    const fromMs = yield* parseTime("from", from, nowMs, toMs - defaultSpanMs)
    if (fromMs >= toMs) return yield* badParam("from", "must be before to")
    return { fromMs, toMs }
  })

export const parseIntParam = (param: string, raw: string | undefined, fallback: number, min: number, max: number) => {
  if (raw === undefined || raw === "") return Effect.succeed(fallback)
  const n = Number(raw)
  return Number.isInteger(n) && n >= min && n <= max ? Effect.succeed(n) : Effect.fail(badParam(param, `must be an integer between ${min} and ${max}`))
}

export const parseNumberParam = (param: string, raw: string | undefined): Effect.Effect<number | null, BadRequest> => {
  if (raw === undefined || raw === "") return Effect.succeed(null)
  const n = Number(raw)
  return Number.isFinite(n) ? Effect.succeed(n) : Effect.fail(badParam(param, `${excerpt(raw)} is not a number`))
}

/** One of `allowed`, or a comma-separated list of them; undefined/empty = no filter. */
export const parseChoices = <A extends string>(param: string, raw: string | undefined, allowed: ReadonlyArray<A>) => {
  if (raw === undefined || raw === "") return Effect.succeed<ReadonlyArray<A> | null>(null)
  const parts = raw.split(",").map((s) => s.trim()).filter((s) => s !== "")
  const wrong = parts.filter((p) => !(allowed as ReadonlyArray<string>).includes(p))
  return wrong.length === 0
    ? Effect.succeed<ReadonlyArray<A> | null>(parts as Array<A>)
    : Effect.fail(badParam(param, `unknown value(s) ${wrong.slice(0, 5).map((w) => excerpt(w)).join(", ")}; expected ${allowed.join(", ")}`))
}

export const parseChoice = <A extends string>(param: string, raw: string | undefined, allowed: ReadonlyArray<A>, fallback: A) =>
  raw === undefined || raw === ""
    ? Effect.succeed(fallback)
    : (allowed as ReadonlyArray<string>).includes(raw)
      ? Effect.succeed(raw as A)
      : Effect.fail(badParam(param, `${excerpt(raw)} is not one of ${allowed.join(", ")}`))

