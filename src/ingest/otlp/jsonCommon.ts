import { MAX_ATTRIBUTE_DEPTH } from "../../domain/limits.ts"
import type { AnyValue, InstrumentationScope, KeyValue, Rejections, Resource } from "./types.ts"
import { reject } from "./types.ts"

/**
 * Field readers for OTLP/JSON (the proto3 JSON mapping): lowerCamelCase names with snake_case
 * accepted, `null` meaning "default", enums as numbers or names, 64-bit integers as numbers or
 * strings. A wrong type throws `Invalid`, which rejects the enclosing span or data point only.
 */
export class Invalid {
  readonly message: string
  // Deliberately not an Error: a request full of bad spans should not pay for a stack trace each.
  constructor(message: string) {
    this.message = message
  }
}

export type Obj = Record<string, unknown>

const EMPTY: AnyValue = Object.freeze({})
const DIGITS = /^\d{1,20}$/
const INTEGER = /^-?\d{1,20}$/
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/
const INT64_MIN = -(2 ** 63)
const INT64_LIMIT = 2 ** 63
const UINT64_LIMIT = 2 ** 64

export const invalid = (message: string): never => {
  throw new Invalid(message)
}

export const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v)

export const field = (o: Obj, camel: string, snake: string): unknown => {
  const v = o[camel]
  return v === undefined || v === null ? o[snake] : v
}

export const obj = (v: unknown, what: string): Obj => (isObj(v) ? v : invalid(`${what} must be an object`))

export const list = (v: unknown, what: string): Array<unknown> =>
  v == null ? [] : Array.isArray(v) ? v : invalid(`${what} must be an array`)

export const str = (v: unknown, what: string): string =>
  v == null ? "" : typeof v === "string" ? v : invalid(`${what} must be a string`)

export const bool = (v: unknown, what: string): boolean =>
  v == null ? false : typeof v === "boolean" ? v : invalid(`${what} must be a boolean`)

/** Trace and span ids are hex in OTLP/JSON (not base64); length is checked by the normaliser. */
export const hexId = (v: unknown, what: string): string =>
  v == null ? "" : typeof v === "string" ? v.toLowerCase() : invalid(`${what} must be a hex string`)

/** uint32 and uint64 (counts): precision above 2^53 is irrelevant once stored as a float. */
export const uint = (v: unknown, what: string): number => {
  if (v == null) return 0
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) return v
  if (typeof v === "string" && DIGITS.test(v)) return Number(v)
  return invalid(`${what} must be a non-negative integer`)
}

export const int = (v: unknown, what: string): number => {
  if (v == null) return 0
  if (typeof v === "number" && Number.isInteger(v)) return v
  if (typeof v === "string" && INTEGER.test(v)) return Number(v)
  return invalid(`${what} must be an integer`)
}

/** An enum's name or number; only the table's own names count ("constructor" is no SpanKind). */
export const enumValue = (v: unknown, names: Readonly<Record<string, number>>, what: string): number => {
  if (typeof v === "string" && Object.hasOwn(names, v)) return names[v]!
  return int(v, what)
}

export const double = (v: unknown, what: string): number => {
  if (typeof v === "number") return v
  if (typeof v === "string") {
    if (v === "NaN") return NaN
    const n = Number(v)
    if (v.trim() !== "" && !Number.isNaN(n)) return n
  }
  return invalid(`${what} must be a number`)
}

export const optionalDouble = (v: unknown, what: string): number | undefined => (v == null ? undefined : double(v, what))

/** A UnixNanos field's decimal digits ("0" when absent), checked; split by digitsMs and digitsNs. */
export const nanos = (v: unknown, what: string): string => {
  if (v == null) return "0"
  if (typeof v === "string" && DIGITS.test(v)) return v
  if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v < UINT64_LIMIT) return Number.isSafeInteger(v) ? String(v) : BigInt(v).toString()
  return invalid(`${what} must be unsigned decimal nanoseconds`)
}

/** Whole milliseconds of decimal nanoseconds, exact (at most 14 digits); parsed in place, no substrings. */
export const digitsMs = (n: string): number => {
  let v = 0
  for (let i = 0, end = n.length - 6; i < end; i++) v = v * 10 + n.charCodeAt(i) - 48
  return v
}

/** The nanoseconds past the whole milliseconds of decimal nanoseconds. */
export const digitsNs = (n: string): number => {
  let v = 0
  for (let i = Math.max(0, n.length - 6); i < n.length; i++) v = v * 10 + n.charCodeAt(i) - 48
  return v
}

/** Same rule as the protobuf path: safe integers as numbers, other int64 as exact decimal strings. */
const int64 = (v: unknown): number | string => {
  if (typeof v === "number" && Number.isInteger(v)) {
    if (Number.isSafeInteger(v)) return v
    // The JS SDK writes integers outside int64 as double_value in protobuf: keep the double here too.
    return v >= INT64_MIN && v < INT64_LIMIT ? BigInt(v).toString() : v
  }
  if (typeof v === "string" && INTEGER.test(v)) {
    const n = Number(v)
    if (Number.isSafeInteger(n)) return n
    const b = BigInt(v)
    if (b >= BigInt(INT64_MIN) && b < BigInt(INT64_LIMIT)) return b.toString()
  }
  return invalid("intValue must be a 64-bit integer")
}

const base64 = (v: unknown): string =>
  typeof v === "string" && BASE64.test(v) ? Buffer.from(v, "base64").toString("base64") : invalid("bytesValue must be base64")

export const anyValue = (v: unknown, depth: number): AnyValue => {
  if (v == null) return EMPTY
  const o = obj(v, "attribute value")
  if (depth > MAX_ATTRIBUTE_DEPTH) invalid(`attribute value nested more than ${MAX_ATTRIBUTE_DEPTH} levels deep`)
  let x = field(o, "stringValue", "string_value")
  if (x != null) return { stringValue: typeof x === "string" ? x : invalid("stringValue must be a string") }
  x = field(o, "intValue", "int_value")
  if (x != null) return { intValue: int64(x) }
  x = field(o, "boolValue", "bool_value")
  if (x != null) return { boolValue: bool(x, "boolValue") }
  x = field(o, "doubleValue", "double_value")
  if (x != null) return { doubleValue: double(x, "doubleValue") }
  x = field(o, "arrayValue", "array_value")
  if (x != null) return { arrayValue: { values: list(obj(x, "arrayValue").values, "arrayValue.values").map((a) => anyValue(a, depth + 1)) } }
  x = field(o, "kvlistValue", "kvlist_value")
  if (x != null) return { kvlistValue: { values: keyValues(obj(x, "kvlistValue").values, depth + 1) } }
  x = field(o, "bytesValue", "bytes_value")
  if (x != null) return { bytesValue: base64(x) }
  return EMPTY
}

export const keyValues = (v: unknown, depth = 0): Array<KeyValue> => {
  const kvs = list(v, "attributes")
  const out = new Array<KeyValue>(kvs.length)
  for (let i = 0; i < kvs.length; i++) {
    const kv = obj(kvs[i], "attribute")
    out[i] = { key: str(kv.key, "attribute key"), value: anyValue(kv.value, depth) }
  }
  return out
}

export const resource = (v: unknown): Resource => {
  if (v == null) return { attributes: [], droppedAttributesCount: 0 }
  const o = obj(v, "resource")
  return {
    attributes: keyValues(o.attributes),
    droppedAttributesCount: uint(field(o, "droppedAttributesCount", "dropped_attributes_count"), "droppedAttributesCount")
  }
}

export const scope = (v: unknown): InstrumentationScope => {
  if (v == null) return { name: "", version: "", attributes: [], droppedAttributesCount: 0 }
  const o = obj(v, "scope")
  return {
    name: str(o.name, "scope.name"),
    version: str(o.version, "scope.version"),
    attributes: keyValues(o.attributes),
    droppedAttributesCount: uint(field(o, "droppedAttributesCount", "dropped_attributes_count"), "droppedAttributesCount")
  }
}

/**
 * Maps `f` over a JSON array; an element that throws `Invalid` is rejected with `count(element)`
 * rejected items (spans or data points) and a message naming its path.
 */
export const collect = <T>(
  items: Array<unknown>, path: string, rej: Rejections, count: (raw: unknown) => number,
  f: (raw: unknown, index: number) => T
): Array<T> => {
  const out: Array<T> = []
  for (let i = 0; i < items.length; i++) {
    try {
      out.push(f(items[i], i))
    } catch (e) {
      if (!(e instanceof Invalid)) throw e
      reject(rej, count(items[i]), `${path}[${i}]: ${e.message}`)
    }
  }
  return out
}

/** Sum of `leaf` over the elements found by following `path` (camelCase or snake_case keys); never throws. */
export const countNested = (
  raw: unknown, path: ReadonlyArray<readonly [string, string]>, leaf: (item: unknown) => number = () => 1
): number => {
  const [head, ...rest] = path
  if (head === undefined || !isObj(raw)) return 0
  const items = field(raw, head[0], head[1])
  if (!Array.isArray(items)) return 0
  let n = 0
  for (const item of items) n += rest.length === 0 ? leaf(item) : countNested(item, rest, leaf)
  return n
}
