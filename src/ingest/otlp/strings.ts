/**
 * String construction for the protobuf hot path. Each Buffer.toString call costs a trip into
 * C++ (~60 ns), more than the rest of a field's decoding, so short ASCII strings, hex ids and
 * timestamps are built in JS, in one allocation each, from reusable scratch arrays.
 */

const MAX_SHORT = 32
const CACHE_BITS = 12
const HEX_CODES: ReadonlyArray<number> = Array.from("0123456789abcdef", (c) => c.charCodeAt(0))
const POW10: ReadonlyArray<number> = Array.from({ length: 11 }, (_, i) => 10 ** i)

// scratch[n] is an n-element argument list for String.fromCharCode.
const scratch: ReadonlyArray<Array<number>> = Array.from({ length: 2 * MAX_SHORT + 1 }, (_, n) => new Array<number>(n).fill(0))

// Keys, names and enum-like values repeat across spans: a direct-mapped memo of short ASCII
// strings (verified byte for byte on every hit) turns most of them into a lookup.
const memo: Array<string> = new Array<string>(1 << CACHE_BITS).fill("")

const codesToString = (codes: Array<number>): string => String.fromCharCode.apply(null, codes)

/** The ASCII string of buf[start, end), or undefined when it is long, not ASCII or holds a NUL. */
export const shortAscii = (buf: Uint8Array, start: number, end: number): string | undefined => {
  const n = end - start
  if (n > MAX_SHORT) return undefined
  let h = n
  for (let i = start; i < end; i++) {
    const c = buf[i]!
    // 1..0x7f in one comparison: 0 wraps to 0xffffffff.
    if ((c - 1) >>> 0 >= 0x7f) return undefined
    h = Math.imul(h ^ c, 0x9e3779b1)
  }
  const slot = h >>> (32 - CACHE_BITS)
  const hit = memo[slot]!
  if (hit.length === n) {
    let i = 0
    while (i < n && hit.charCodeAt(i) === buf[start + i]) i++
    if (i === n) return hit
  }
  const codes = scratch[n]!
  for (let i = 0; i < n; i++) codes[i] = buf[start + i]!
  const s = codesToString(codes)
  memo[slot] = s
  return s
}

/** Lowercase hex of buf[start, end) for ids (at most 32 bytes). */
export const hexString = (buf: Uint8Array, start: number, end: number): string => {
  const codes = scratch[2 * (end - start)]!
  for (let i = start, j = 0; i < end; i++, j += 2) {
    const c = buf[i]!
    codes[j] = HEX_CODES[c >> 4]!
    codes[j + 1] = HEX_CODES[c & 15]!
  }
  return codesToString(codes)
}

/** floor(x / d) for integers 0 <= x < 2^53, corrected for the rounding of x / d. */
const divmod = (x: number, d: number): number => {
  let q = Math.floor(x / d)
  if (x - q * d < 0) q--
  else if (x - q * d >= d) q++
  return q
}

const writeDigits = (codes: Array<number>, from: number, count: number, x: number): void => {
  for (let i = from + count - 1; i >= from; i--) {
    const q = (x / 10) | 0
    codes[i] = 48 + x - q * 10
    x = q
  }
}

/**
 * Exact decimal string of the unsigned 64-bit value hi·2^32 + lo, without BigInt, splitting it
 * into int32-sized groups of digits (double `%` is a libc call, int32 division is not).
 */
export const uint64ToDecimal = (lo: number, hi: number): string => {
  if (hi < 0x200000) return String(hi * 4294967296 + lo)
  // 2^32 = 4294·10^6 + 967296 keeps every intermediate below 2^53.
  const t = hi * 967296 + lo
  const tq = divmod(t, 1e6)
  const units = t - tq * 1e6
  const millions = hi * 4294 + tq
  const top = divmod(millions, 1e7)
  const middle = millions - top * 1e7
  let topDigits = 1
  while (topDigits < 10 && top >= POW10[topDigits]!) topDigits++
  const codes = scratch[topDigits + 13]!
  writeDigits(codes, 0, topDigits, top)
  writeDigits(codes, topDigits, 7, middle)
  writeDigits(codes, topDigits + 7, 6, units)
  return codesToString(codes)
}
