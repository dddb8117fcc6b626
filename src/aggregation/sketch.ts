import { SketchSchema } from "../domain/windowAgg.ts"
import type { Sketch } from "../domain/windowAgg.ts"

export { SketchSchema }
export type { Sketch }

/**
 * DDSketch-style mergeable quantile sketch stored as plain JSON.
 *
 * `pos`/`neg` map a bucket index (decimal string) to a positive count; bucket `i` holds
 * magnitudes in (gamma^(i-1), gamma^i] with gamma = (1+alpha)/(1-alpha), so any value is
 * reported within relative error `alpha`. Each store keeps at most `maxBuckets` buckets:
 * beyond that the lowest indices (smallest magnitudes) are folded into the lowest kept one.
 * Collapsing keeps the top-N indices of the union, so merge stays exactly associative.
 * `min`/`max` are exact and are 0 while `count` is 0 (JSON has no Infinity).
 */

export const DEFAULT_ALPHA = 0.01
export const DEFAULT_MAX_BUCKETS = 2048
/** Magnitudes below this count as zero: their log index would leave the accurate double range. */
export const MIN_INDEXABLE = 1e-300

const gammaOf = (alpha: number) => (1 + alpha) / (1 - alpha)

export const empty = (alpha: number = DEFAULT_ALPHA, maxBuckets: number = DEFAULT_MAX_BUCKETS): Sketch => {
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`sketch alpha must be in (0, 1), got ${alpha}`)
  if (!Number.isInteger(maxBuckets) || maxBuckets < 1) throw new RangeError(`maxBuckets must be a positive integer`)
  return { alpha, maxBuckets, count: 0, zeroCount: 0, min: 0, max: 0, pos: {}, neg: {} }
}

type Store = Map<number, number>

// toStore / toRecord run for every (series, window) of every batch: plain loops, no entry arrays.
const toStore = (r: Readonly<Record<string, number>>): Store => {
  const m: Store = new Map()
  for (const k in r) if (Object.hasOwn(r, k)) m.set(Number(k), r[k] as number)
  return m
}

const collapse = (m: Store, maxBuckets: number): Store => {
  if (m.size <= maxBuckets) return m
  const keys = [...m.keys()].sort((a, b) => b - a)
  const floorKey = keys[maxBuckets - 1] ?? 0
  let folded = 0
  for (const k of keys.slice(maxBuckets - 1)) folded += m.get(k) ?? 0
  for (const k of keys.slice(maxBuckets)) m.delete(k)
  m.set(floorKey, folded)
  return m
}

const toRecord = (m: Store): Record<string, number> => {
  const keys = Array.from(m.keys())
  if (keys.length > 1) keys.sort((a, b) => a - b)
  const r: Record<string, number> = {}
  for (const k of keys) r[String(k)] = m.get(k) as number
  return r
}

/** Returns a new sketch; non-finite values are skipped so the sketch stays JSON-serialisable. */
export const addMany = (s: Sketch, xs: Iterable<number>): Sketch => {
  const lnGamma = Math.log(gammaOf(s.alpha))
  const pos = toStore(s.pos)
  const neg = toStore(s.neg)
  let { count, zeroCount, min, max } = s
  for (const raw of xs) {
    if (!Number.isFinite(raw)) continue
    const x = raw === 0 ? 0 : raw // -0 does not survive JSON
    min = count === 0 ? x : Math.min(min, x)
    max = count === 0 ? x : Math.max(max, x)
    count++
    const mag = Math.abs(x)
    if (mag < MIN_INDEXABLE) {
      zeroCount++
      continue
    }
    const store = x > 0 ? pos : neg
    const i = Math.ceil(Math.log(mag) / lnGamma)
    store.set(i, (store.get(i) ?? 0) + 1)
  }
  return {
    alpha: s.alpha,
    maxBuckets: s.maxBuckets,
    count,
    zeroCount,
    min,
    max,
    pos: toRecord(collapse(pos, s.maxBuckets)),
    neg: toRecord(collapse(neg, s.maxBuckets))
  }
}

/** Copies the bucket maps (O(buckets)); prefer `addMany` for batches. */
export const add = (s: Sketch, x: number): Sketch => addMany(s, [x])

export const fromValues = (xs: Iterable<number>, alpha: number = DEFAULT_ALPHA): Sketch => addMany(empty(alpha), xs)

const mergeStores = (a: Readonly<Record<string, number>>, b: Readonly<Record<string, number>>): Store => {
  const m = toStore(a)
  for (const key in b) {
    if (!Object.hasOwn(b, key)) continue
    const k = Number(key)
    m.set(k, (m.get(k) ?? 0) + (b[key] as number))
  }
  return m
}

/** Associative and commutative (bucket counts are integers, so exactly so). Alphas must match. */
export const merge = (a: Sketch, b: Sketch): Sketch => {
  if (a.alpha !== b.alpha) throw new RangeError(`cannot merge sketches with alpha ${a.alpha} and ${b.alpha}`)
  const maxBuckets = Math.min(a.maxBuckets, b.maxBuckets)
  const min = a.count === 0 ? b.min : b.count === 0 ? a.min : Math.min(a.min, b.min)
  const max = a.count === 0 ? b.max : b.count === 0 ? a.max : Math.max(a.max, b.max)
  return {
    alpha: a.alpha,
    maxBuckets,
    count: a.count + b.count,
    zeroCount: a.zeroCount + b.zeroCount,
    min,
    max,
    pos: toRecord(collapse(mergeStores(a.pos, b.pos), maxBuckets)),
    neg: toRecord(collapse(mergeStores(a.neg, b.neg), maxBuckets))
  }
}

/**
 * `rest.reduce(merge, first)` in one pass: one store per sign, written once (a window closed from many
 * batches' partials merged them pairwise, each merge rebuilding both stores). The same result: while no
 * step needs collapsing the pairwise merges only add counts; a merge that would collapse makes it fall
 * back to the pairwise fold.
 */
export const mergeSketches = (first: Sketch, rest: ReadonlyArray<Sketch>): Sketch => {
  if (rest.length === 0) return first
  let { maxBuckets, count, zeroCount, min, max } = first
  const pos = toStore(first.pos)
  const neg = toStore(first.neg)
  const into = (m: Store, r: Readonly<Record<string, number>>) => {
    for (const key in r) {
      if (!Object.hasOwn(r, key)) continue
      const k = Number(key)
      m.set(k, (m.get(k) ?? 0) + (r[key] as number))
    }
  }
  for (const b of rest) {
    if (b.alpha !== first.alpha) throw new RangeError(`cannot merge sketches with alpha ${first.alpha} and ${b.alpha}`)
    maxBuckets = Math.min(maxBuckets, b.maxBuckets)
    min = count === 0 ? b.min : b.count === 0 ? min : Math.min(min, b.min)
    max = count === 0 ? b.max : b.count === 0 ? max : Math.max(max, b.max)
    count += b.count
    zeroCount += b.zeroCount
    into(pos, b.pos)
    into(neg, b.neg)
    if (pos.size > maxBuckets || neg.size > maxBuckets) return rest.reduce(merge, first)
  }
  return { alpha: first.alpha, maxBuckets, count, zeroCount, min, max, pos: toRecord(pos), neg: toRecord(neg) }
}

/**
 * Value of rank floor(q * (count - 1)) within relative error alpha; q = 0 and q = 1 give the
 * exact min and max. NaN for an empty sketch or q outside [0, 1].
 */
export const quantiles = (s: Sketch, qs: ReadonlyArray<number>): Array<number> => {
  const gamma = gammaOf(s.alpha)
  const scale = 2 / (gamma + 1)
  const rep = (i: number) => Math.pow(gamma, i) * scale
  const sortedKeys = (r: Readonly<Record<string, number>>) => Object.keys(r).map(Number).sort((a, b) => a - b)
  const ordered: Array<readonly [value: number, count: number]> = [
    ...sortedKeys(s.neg).reverse().map((i) => [-rep(i), s.neg[String(i)] ?? 0] as const),
    ...(s.zeroCount > 0 ? [[0, s.zeroCount] as const] : []),
    ...sortedKeys(s.pos).map((i) => [rep(i), s.pos[String(i)] ?? 0] as const)
  ]
  return qs.map((q) => {
    if (s.count === 0 || !(q >= 0 && q <= 1)) return Number.NaN
    if (q === 0) return s.min
    if (q === 1) return s.max
    const rank = Math.floor(q * (s.count - 1))
    let seen = 0
    for (const [value, c] of ordered) {
      seen += c
      if (seen > rank) return Math.min(s.max, Math.max(s.min, value))
    }
    return s.max
  })
}

export const quantile = (s: Sketch, q: number): number => quantiles(s, [q])[0] ?? Number.NaN
