import { BadRequest } from "../domain/errors.ts"

// What the read endpoints' checks beyond a single parameter (a plan over the whole range, a raw range
// limit, a cursor) say: a 400 naming the parameter, as the Schema-decoded query parameters do
// (src/domain/queryParams.ts).

export const badParam = (param: string, message: string) => new BadRequest({ message: `${param}: ${message}`, issues: [{ path: param, message }] })

/** Seconds as the shortest duration text: 300 → "5m", 7200 → "2h". */
export const formatDuration = (seconds: number): string => {
  for (const [unit, size] of [["w", 604_800], ["d", 86_400], ["h", 3600], ["m", 60]] as const) {
    if (seconds % size === 0) return `${seconds / size}${unit}`
  }
  return `${seconds}s`
}
