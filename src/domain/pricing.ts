import { Schema } from "effect"

// settings.pricing and settings.budgets: the tenant's price table and spending limits.

const NonNegative = (field: string) =>
  Schema.Number.pipe(Schema.finite({ message: () => `${field} must be a finite number` }), Schema.nonNegative({ message: () => `${field} must be >= 0` }))

/** An exact model name, or a prefix ending in `*` (`gpt-4o*`); nothing else may carry a `*`. */
export const ModelPattern = Schema.String.pipe(
  Schema.filter((s) => {
    if (s.length === 0 || s.length > 200) return "model must be 1-200 characters"
    const star = s.indexOf("*")
    if (star !== -1 && star !== s.length - 1) return `model ${JSON.stringify(s.slice(0, 64))} may hold a * only at its end (a prefix)`
    if (s === "*") return "model * would price every model: name a model or a prefix (gpt-4o*)"
    return true
  })
)

const IsoDate = Schema.String.pipe(
  Schema.filter((s) => {
    const m = /^(\d{4})-(\d{2})-(\d{2})(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.exec(s)
    if (m === null || Number.isNaN(Date.parse(s))) return `effectiveFrom must be an ISO date (2025-01-31) or date-time, not ${JSON.stringify(s.slice(0, 40))}`
    // Date.parse rolls 2025-02-30 over to March: compare the calendar parts back.
    const d = new Date(`${m[1]}-${m[2]}-${m[3]}T00:00:00Z`)
    if (d.getUTCMonth() + 1 !== Number(m[2]) || d.getUTCDate() !== Number(m[3])) return `effectiveFrom ${s} is not a calendar date`
    return true
  })
)

/** USD per million tokens of one model (or prefix) from a date on. */
export const Price = Schema.Struct({
  model: ModelPattern,
  inputPerMTok: NonNegative("inputPerMTok"),
  outputPerMTok: NonNegative("outputPerMTok"),
  cacheReadPerMTok: Schema.optional(NonNegative("cacheReadPerMTok")),
  cacheWritePerMTok: Schema.optional(NonNegative("cacheWritePerMTok")),
  effectiveFrom: IsoDate
})
export type Price = typeof Price.Type

export const Pricing = Schema.Array(Price).pipe(
  Schema.maxItems(1000, { message: () => "pricing holds at most 1000 entries" }),
  Schema.filter((ps) => {
    const seen = new Map<string, number>()
    for (const [i, p] of ps.entries()) {
      const k = `${p.model}\u0000${Date.parse(p.effectiveFrom)}`
      if (seen.has(k)) return { path: [i, "effectiveFrom"], message: `a second price for ${p.model} from ${p.effectiveFrom} (entry ${seen.get(k)} has it)` }
      seen.set(k, i)
    }
    return true
  })
)

export const BudgetWindow = Schema.Literal("1h", "24h", "30d")
export const BUDGET_WINDOW_MS: Record<typeof BudgetWindow.Type, number> = { "1h": 3_600_000, "24h": 86_400_000, "30d": 30 * 86_400_000 }

/** A rolling spending limit: `budget_exceeded` warns at warnAtRatio × limitUsd and is critical at limitUsd. */
export const Budget = Schema.Struct({
  id: Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_.:-]{1,64}$/, { message: () => "budget id must be 1-64 letters, digits, _ . : -" })),
  scope: Schema.Literal("tenant", "agent", "user", "model", "conversation"),
  /** The agent, user, model or conversation it limits (exact, or a prefix ending in *); unset: each one separately. */
  match: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200))),
  window: BudgetWindow,
  limitUsd: Schema.Number.pipe(Schema.finite(), Schema.positive({ message: () => "limitUsd must be > 0" })),
  warnAtRatio: Schema.optionalWith(
    Schema.Number.pipe(Schema.greaterThan(0, { message: () => "warnAtRatio must be in (0, 1]" }), Schema.lessThanOrEqualTo(1, { message: () => "warnAtRatio must be in (0, 1]" })),
    { default: () => 0.8 }
  )
})
export type Budget = typeof Budget.Type

export const Budgets = Schema.Array(Budget).pipe(
  Schema.maxItems(100, { message: () => "budgets holds at most 100 entries" }),
  Schema.filter((bs) => {
    const seen = new Set<string>()
    for (const [i, b] of bs.entries()) {
      if (seen.has(b.id)) return { path: [i, "id"], message: `budget id ${b.id} is used twice` }
      seen.add(b.id)
    }
    return true
  })
)

/** Whether `name` matches an exact name or a `prefix*` pattern. */
export const matchesPattern = (pattern: string, name: string): boolean =>
  pattern.endsWith("*") ? name.startsWith(pattern.slice(0, -1)) : name === pattern
