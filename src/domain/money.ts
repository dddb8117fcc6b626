// Dollars as a person reads them, the same in the console (web/src/lib/format.ts re-exports this) and in
// what the service writes for people: alert titles, the execution analysis.

/**
 * US dollars: small amounts keep their significant digits ($0.0042, $0.00015), larger ones cents
 * ($12.50); an amount under half of $0.00001 (a handful of tokens of a cheap model) is "<$0.00001",
 * never "$0": it was not free.
 */
export const formatUsd = (v: number): string => {
  if (!Number.isFinite(v)) return "–"
  if (v === 0) return "$0"
  const a = Math.abs(v)
  if (a < 0.000005) return `${v < 0 ? "-" : ""}<$0.00001`
  return `${v < 0 ? "-" : ""}$${a < 0.01 ? a.toFixed(5).replace(/0+$/, "") : a < 1 ? a.toFixed(4).replace(/0+$/, "") : a.toFixed(2)}`
}
