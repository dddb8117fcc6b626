// Array parameters for `unnest(…)` inserts, written as PostgreSQL array literals directly. pg's own
// conversion (prepareValue → arrayString → escapeElement per element) costs ~1 µs per metric row in
// profiles; a literal built in one pass costs a fraction, and a value repeated across rows (the
// attributes of one set) is escaped once by the caller. The receiving side casts the text
// (`$n::float8[]`, `::text[]`, `::int8[]`) exactly as it cast pg's literal.

/** `{1,2.5,NaN,Infinity}`: float8 reads JavaScript's number text (exponents, NaN, ±Infinity) as is. */
export const float8Array = (xs: ReadonlyArray<number>): string => `{${xs.join(",")}}`

/** `{1,-2}` from the decimal text of int8 values. */
export const int8Array = (xs: ReadonlyArray<string>): string => `{${xs.join(",")}}`

const NEEDS_ESCAPE = /["\\]/
const ESCAPES = /["\\]/g

/** One element of a text array: quoted, `"` and `\` escaped; NULL for null. */
export const textElement = (s: string | null): string =>
  s === null ? "NULL" : NEEDS_ESCAPE.test(s) ? `"${s.replace(ESCAPES, "\\$&")}"` : `"${s}"`

/** A text array of elements already made by `textElement`. */
export const textArrayOf = (elements: ReadonlyArray<string>): string => `{${elements.join(",")}}`

export const textArray = (xs: ReadonlyArray<string | null>): string => textArrayOf(xs.map(textElement))

/**
 * A value's JSON as one element of a text array (`::text[]`, cast to jsonb). JSON text holds no control
 * character and no lone surrogate unescaped, so the only characters to escape in it are `"` and `\`:
 * exactly what JSON.stringify escapes in a string. The JSON of the JSON is the element, made in native
 * code (a third of the regex escape's cost per span attribute set, scratch micro-benchmark).
 */
export const jsonElement = (v: unknown): string => JSON.stringify(JSON.stringify(v))

/** A text array of values' JSON. */
export const jsonArray = (xs: ReadonlyArray<unknown>): string => textArrayOf(xs.map(jsonElement))

/**
 * `encode(x)` once per distinct key of a batch: a batch repeats few names, models and attribute sets (the
 * points of one set share its object, src/domain/metricColumns.ts; the spans of one resource theirs).
 */
export const once = <K, V>(encode: (k: K) => V) => {
  const done = new Map<K, V>()
  return (k: K): V => {
    let e = done.get(k)
    if (e === undefined) done.set(k, (e = encode(k)))
    return e
  }
}

/**
 * A literal of `type` ("text", "float8", "int4" or "bool") for values with NULLs (the genai_* columns of
 * spans: mostly NULL for a plain span). A text value repeated across rows (a model, an agent) is escaped once.
 */
export const nullableArray = (type: string, xs: ReadonlyArray<string | number | boolean | null>): string => {
  if (type === "text") {
    const element = once(textElement)
    return textArrayOf(xs.map((x) => (x === null ? "NULL" : element(String(x)))))
  }
  if (type === "bool") return `{${xs.map((x) => (x === null ? "NULL" : x === true ? "t" : "f")).join(",")}}`
  return `{${xs.map((x) => (x === null ? "NULL" : String(x))).join(",")}}`
}
