// Rows for `COPY … FROM STDIN` in its text format (src/db/pgPool.ts): fields apart by tabs, a row ended
// by a newline, NULL as \N, and in a value a backslash, tab, newline or carriage return escaped by a
// backslash. The server reads each field with its column type's input function, the one that reads the
// INSERT's array elements (src/ingest/pgArrays.ts): the same text stores the same value.

const NULL_FIELD = "\\N"

const SPECIAL = /[\\\t\n\r]/
const SPECIALS = /[\\\t\n\r]/g
const ESCAPED: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" }

/** A text field. A NUL character is sent as is: the server refuses it, as it refuses it in the INSERT's array. */
export const copyText = (s: string | null): string =>
  s === null ? NULL_FIELD : SPECIAL.test(s) ? s.replace(SPECIALS, (c) => ESCAPED[c] ?? c) : s

/** A value's JSON as a field: JSON.stringify escapes every control character, so only its backslashes need escaping. */
export const copyJson = (v: unknown): string => {
  const j = JSON.stringify(v)
  return j.includes("\\") ? j.replaceAll("\\", "\\\\") : j
}

/** A genai_* value (src/ingest/genai/columns.ts): as nullableArray writes it, a field instead of an element. */
export const copyValue = (x: string | number | boolean | null): string =>
  x === null ? NULL_FIELD : typeof x === "string" ? copyText(x) : typeof x === "boolean" ? (x ? "t" : "f") : String(x)

const PG_EPOCH_S = 946_684_800
// Within these the µs since 1970 are exact integers in a double (below 2^53) and toISOString writes a 4-digit year.
const MIN_US = Date.UTC(1900, 0, 1) * 1000
const MAX_US = Date.UTC(2200, 0, 1) * 1000

/** rint: to the nearest integer, halves to even. */
const rint = (x: number): number => {
  const f = Math.floor(x)
  const d = x - f
  return d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1
}

// The last second formatted: a batch's times mostly fall in a few seconds, and toISOString costs more than the rest.
let lastSecond = Number.NaN
let lastPrefix = ""

/**
 * The instant `to_timestamp(ms / 1000.0)` stores, as timestamptz text: PostgreSQL's own arithmetic
 * (float8_timestamptz: the seconds since 2000 times 10^6, rint), so a fractional millisecond (OTLP's
 * nanoseconds) rounds to the microsecond the INSERT stores. Undefined out of 1900–2199 (and for NaN, ±Infinity):
 * such a chunk goes by the INSERT.
 */
export const copyTimestamp = (ms: number): string | undefined => {
  const us = rint((ms / 1000 - PG_EPOCH_S) * 1e6) + PG_EPOCH_S * 1e6
  if (!(us >= MIN_US && us < MAX_US)) return undefined
  const second = Math.floor(us / 1e6)
  const micros = us - second * 1e6
  if (second !== lastSecond) {
    lastSecond = second
    lastPrefix = new Date(second * 1000).toISOString().slice(0, 19)
  }
  return micros === 0 ? `${lastPrefix}Z` : `${lastPrefix}.${String(micros).padStart(6, "0")}Z`
}

/**
 * A COPY's rows in one buffer: each row's text written where the last one ended, instead of a Buffer per
 * row and a concatenation of them all (a batch's rows were allocated and copied twice).
 */
export class CopyRows {
  private buf: Buffer
  private used = 0
  constructor(bytesHint: number) {
    this.buf = Buffer.allocUnsafe(Math.max(1024, bytesHint))
  }

  push(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit; only when that might not fit is the exact length asked.
    const room = this.buf.length - this.used
    if (room < text.length * 3) {
      const bytes = Buffer.byteLength(text)
      if (room < bytes) {
        const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + bytes))
        this.buf.copy(next, 0, 0, this.used)
        this.buf = next
      }
    }
    this.used += this.buf.write(text, this.used)
  }

  /** The rows written so far (a view of the buffer, not a copy). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.used)
  }
}
