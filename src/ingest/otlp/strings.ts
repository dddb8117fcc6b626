/**
 * String construction for the protobuf hot path. Each Buffer.toString call costs a trip into
 * C++ (~60 ns), more than the rest of a field's decoding, so short ASCII strings and hex ids
 * are built in JS, in one allocation each, from reusable scratch arrays.
 */

const MAX_SHORT = 32
const CACHE_BITS = 12
const HEX_CODES: ReadonlyArray<number> = Array.from("0123456789abcdef", (c) => c.charCodeAt(0))

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
