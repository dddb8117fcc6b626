import { OtlpDecodeError } from "./errors.ts"
import { hexString, shortAscii } from "./strings.ts"

/** Protobuf wire types. */
export const VARINT = 0
export const I64 = 1
export const LEN = 2
export const SGROUP = 3
export const EGROUP = 4
export const I32 = 5

const MAX_GROUP_DEPTH = 32

/** int64 as a number when it is a safe integer, else its exact decimal string. */
export const int64Value = (lo: number, hi: number): number | string => {
  const v = hi < 0x80000000 ? hi * 4294967296 + lo : (hi - 4294967296) * 4294967296 + lo
  if (Number.isSafeInteger(v)) return v
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo)).toString()
}

/**
 * Cursor over a protobuf buffer. Every read is bounds-checked and throws OtlpDecodeError on
 * truncated or malformed input; message decoders call `checkEnd` so that no field can run past
 * the length of the message that contains it.
 */
export class ProtoReader {
  readonly buf: Uint8Array
  // For long or non-ASCII strings; invalid UTF-8 (and NUL) becomes U+FFFD, as in other receivers.
  readonly text: Buffer
  readonly view: DataView
  readonly length: number
  pos = 0
  // Scratch halves of the last 64-bit varint, so that reading one allocates nothing.
  lo = 0
  hi = 0
  // The nanoseconds past the milliseconds of the last nanosMs.
  subMsNs = 0
  private traceIdAt = -1
  private traceId = ""

  constructor(buf: Uint8Array) {
    this.buf = buf
    this.text = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
    this.length = buf.length
  }

  fail(what: string): never {
    throw new OtlpDecodeError({ message: `malformed protobuf at byte ${this.pos}: ${what}` })
  }

  truncated(): never {
    throw new OtlpDecodeError({ message: `truncated protobuf: unexpected end of input at byte ${this.pos} of ${this.length}` })
  }

  checkEnd(end: number): void {
    if (this.pos !== end) this.fail(`field overruns its enclosing message (ends at byte ${end})`)
  }

  uint32(): number {
    const b = this.buf
    const p = this.pos
    const c = b[p]
    if (c !== undefined && c < 0x80) {
      this.pos = p + 1
      return c
    }
    // Two-byte varints: tags of fields 16+ and lengths of most spans.
    const d = b[p + 1]
    if (c !== undefined && d !== undefined && d < 0x80) {
      this.pos = p + 2
      return (c & 0x7f) | (d << 7)
    }
    this.varint64()
    return this.lo
  }

  int32(): number {
    return this.uint32() | 0
  }

  sint32(): number {
    const n = this.uint32()
    return (n >>> 1) ^ -(n & 1)
  }

  bool(): boolean {
    this.varint64()
    return (this.lo | this.hi) !== 0
  }

  uint64(): number {
    this.varint64()
    return this.hi * 4294967296 + this.lo
  }

  int64(): number | string {
    this.varint64()
    return int64Value(this.lo, this.hi)
  }

  varint64(): void {
    const b = this.buf
    const n = this.length
    let pos = this.pos
    let lo = 0
    let hi = 0
    let c = 0
    for (let shift = 0; shift < 28; shift += 7) {
      if (pos >= n) this.truncated()
      c = b[pos++]!
      lo |= (c & 0x7f) << shift
      if (c < 0x80) return this.setVarint(pos, lo, 0)
    }
    if (pos >= n) this.truncated()
    c = b[pos++]!
    lo |= (c & 0x7f) << 28
    hi = (c & 0x7f) >> 4
    if (c < 0x80) return this.setVarint(pos, lo, hi)
    for (let shift = 3; shift < 38; shift += 7) {
      if (pos >= n) this.truncated()
      c = b[pos++]!
      hi |= (c & 0x7f) << shift
      if (c < 0x80) return this.setVarint(pos, lo, hi)
    }
    this.fail("varint longer than 10 bytes")
  }

  private setVarint(pos: number, lo: number, hi: number): void {
    this.pos = pos
    this.lo = lo >>> 0
    this.hi = hi >>> 0
  }

  /** Advances over n bytes and returns where they start. */
  take(n: number): number {
    const p = this.pos
    if (p + n > this.length) this.truncated()
    this.pos = p + n
    return p
  }

  fixed32(): number {
    return this.view.getUint32(this.take(4), true)
  }

  fixed64(): number {
    const p = this.take(8)
    return this.view.getUint32(p + 4, true) * 4294967296 + this.view.getUint32(p, true)
  }

  sfixed64(): number {
    const p = this.take(8)
    return this.view.getInt32(p + 4, true) * 4294967296 + this.view.getUint32(p, true)
  }

  double(): number {
    return this.view.getFloat64(this.take(8), true)
  }

  /**
   * A fixed64 UnixNanos: its whole milliseconds, exact, without BigInt or a string; the nanoseconds
   * past them are then in `subMsNs`. 2^32 = 4294·10^6 + 967,296 keeps every intermediate below 2^53.
   */
  nanosMs(): number {
    const p = this.take(8)
    const hi = this.view.getUint32(p + 4, true)
    const t = hi * 967296 + this.view.getUint32(p, true)
    // t < 2^32·967,297, so t / 10^6 < 2^32, where a double resolves 2^-21 < 10^-6: the floor is exact.
    const q = Math.floor(t / 1e6)
    this.subMsNs = t - q * 1e6
    return hi * 4294 + q
  }

  /** Reads a length prefix and returns the end offset of the field it announces. */
  end(): number {
    const len = this.uint32()
    const end = this.pos + len
    if (end > this.length) this.truncated()
    return end
  }

  string(): string {
    const end = this.end()
    const start = this.pos
    this.pos = end
    const ascii = shortAscii(this.buf, start, end)
    if (ascii !== undefined) return ascii
    // PostgreSQL text and jsonb refuse NUL: it becomes U+FFFD, like invalid UTF-8.
    const s = this.text.toString("utf8", start, end)
    return s.includes("\u0000") ? s.replaceAll("\u0000", "\uFFFD") : s
  }

  hex(): string {
    const end = this.end()
    const start = this.pos
    this.pos = end
    if (end - start !== 16) return end - start <= 32 ? hexString(this.buf, start, end) : this.text.toString("hex", start, end)
    // Exporters batch the spans of a trace together: most trace ids equal the previous one.
    const b = this.buf
    const prev = this.traceIdAt
    if (prev >= 0) {
      let i = 0
      while (i < 16 && b[prev + i] === b[start + i]) i++
      if (i === 16) return this.traceId
    }
    this.traceIdAt = start
    this.traceId = hexString(b, start, end)
    return this.traceId
  }

  base64(): string {
    const end = this.end()
    const start = this.pos
    this.pos = end
    return this.text.toString("base64", start, end)
  }

  /** Skips one field of any wire type; unknown fields are how protobuf stays compatible. */
  skip(tag: number, depth = 0): void {
    const field = tag >>> 3
    if (field === 0) this.fail("field number 0")
    switch (tag & 7) {
      case VARINT:
        this.varint64()
        return
      case I64:
        this.take(8)
        return
      case LEN:
        this.pos = this.end()
        return
      case I32:
        this.take(4)
        return
      case SGROUP:
        if (depth >= MAX_GROUP_DEPTH) this.fail("groups nested too deeply")
        for (;;) {
          const inner = this.uint32()
          if ((inner & 7) === EGROUP) {
            if (inner >>> 3 !== field) this.fail(`end-group for field ${inner >>> 3} inside group ${field}`)
            return
          }
          this.skip(inner, depth + 1)
        }
      case EGROUP:
        return this.fail(`unexpected end-group for field ${field}`)
      default:
        return this.fail(`invalid wire type ${tag & 7} for field ${field}`)
    }
  }
}
