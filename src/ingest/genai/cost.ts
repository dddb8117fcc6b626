import { matchesPattern } from "../../domain/pricing.ts"
import type { Price } from "../../domain/pricing.ts"
import type { GenaiRecord } from "./recognize.ts"

// Cost at ingest: the tenant's price in force at the span's time, stored with the span so that a later
// price change does not rewrite history. Tokens of a model without a price are unpriced, never free.

interface CompiledPrice extends Price { readonly fromMs: number; readonly exact: boolean; readonly prefixLength: number }

/** The price table sorted most specific first (exact, then longer prefixes), latest first within a pattern. */
export const compilePricing = (prices: ReadonlyArray<Price>): ReadonlyArray<CompiledPrice> =>
  prices
    .map((p) => ({ ...p, fromMs: Date.parse(p.effectiveFrom), exact: !p.model.endsWith("*"), prefixLength: p.model.length }))
    .sort((a, b) => Number(b.exact) - Number(a.exact) || b.prefixLength - a.prefixLength || b.fromMs - a.fromMs)

/** The price of `model` in force at `timeMs`: the most specific pattern that has one then. */
export const priceAt = (table: ReadonlyArray<CompiledPrice>, model: string, timeMs: number): Price | undefined =>
  table.find((p) => p.fromMs <= timeMs && matchesPattern(p.model, model))

export const tokenTotal = (r: GenaiRecord): number =>
  (r.inputTokens ?? 0) + (r.outputTokens ?? 0) + (r.cacheReadTokens ?? 0) + (r.cacheWriteTokens ?? 0)

/** USD of the record's tokens at `p`; cache tokens at the input price when the entry has no cache price. */
export const costOf = (r: GenaiRecord, p: Price): number =>
  ((r.inputTokens ?? 0) * p.inputPerMTok + (r.outputTokens ?? 0) * p.outputPerMTok +
    (r.cacheReadTokens ?? 0) * (p.cacheReadPerMTok ?? p.inputPerMTok) + (r.cacheWriteTokens ?? 0) * (p.cacheWritePerMTok ?? p.inputPerMTok)) / 1e6

/**
 * The record with its cost (or its unpriced tokens) written into it: `r` is a record recognize has just
 * made, not yet seen by anyone (no copy per span). A span without tokens costs nothing and is not unpriced.
 */
export const priced = (table: ReadonlyArray<CompiledPrice>, r: GenaiRecord, timeMs: number): GenaiRecord => {
  const total = tokenTotal(r)
  if (total === 0) return r
  const p = (r.responseModel === null ? undefined : priceAt(table, r.responseModel, timeMs)) ??
    (r.requestModel === null ? undefined : priceAt(table, r.requestModel, timeMs))
  const w = r as { -readonly [K in keyof GenaiRecord]: GenaiRecord[K] }
  if (p === undefined) w.unpricedTokens = total
  else w.costUsd = costOf(r, p)
  return w
}
