// JSON bodies as the rest of the service can take them: nesting bounded, every string storable.

/**
 * Deepest nesting of arrays and objects a JSON body may have. Recursive code downstream (Effect's
 * error printer, JSON.stringify, the embedded database's jsonb parser, which crashed its WASM at
 * 1,500 levels) is safe far above it; OTLP/JSON needs ~10 levels plus 4 per nested attribute value.
 */
export const MAX_JSON_DEPTH = 100

// NUL is refused by PostgreSQL text and jsonb, an unpaired surrogate by jsonb; in JSON text both can
// only come as \u escapes, so a body without one needs no look at its strings.
const SUSPECT_ESCAPE = /\\u(?:0000|[dD][89a-fA-F])/

const hasWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed()
const toWellFormed = (s: string): string => (s as unknown as { toWellFormed(): string }).toWellFormed()

/** NUL and unpaired surrogates become U+FFFD, as invalid UTF-8 already does when a body is decoded. */
export const storableString = (s: string): string => {
  const t = s.includes("\u0000") ? s.replaceAll("\u0000", "\uFFFD") : s
  return hasWellFormed(t) ? t : toWellFormed(t)
}

type Container = Array<unknown> | Record<string, unknown>

const isContainer = (v: unknown): v is Container => typeof v === "object" && v !== null

/** An object with `key` defined as an own property ("__proto__" included, which `=` would not define). */
const define = (o: Record<string, unknown>, key: string, value: unknown) =>
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true })

/**
 * Walks `root` without recursion: false when it nests deeper than `maxDepth`; with `fixStrings`, also
 * rewrites (in place) every string and key that PostgreSQL could not store.
 */
const walk = (root: Container, maxDepth: number, fixStrings: boolean): boolean => {
  const stack: Array<Container> = [root]
  const depths: Array<number> = [1]
  while (stack.length > 0) {
    const v = stack.pop()!
    const d = depths.pop()!
    if (d > maxDepth) return false
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const x = v[i]
        if (isContainer(x)) {
          stack.push(x)
          depths.push(d + 1)
        } else if (fixStrings && typeof x === "string") v[i] = storableString(x)
      }
    } else {
      for (const k in v) {
        const x = v[k]
        if (isContainer(x)) {
          stack.push(x)
          depths.push(d + 1)
        } else if (fixStrings && typeof x === "string") define(v, k, storableString(x))
      }
      if (fixStrings) {
        const keys = Object.keys(v)
        if (keys.some((k) => storableString(k) !== k)) {
          const entries = keys.map((k) => [storableString(k), v[k]] as const)
          for (const k of keys) delete v[k]
          for (const [k, x] of entries) define(v, k, x)
        }
      }
    }
  }
  return true
}

export type JsonParse = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly message: string }

/** JSON.parse, refusing nesting deeper than `maxDepth` and making every string storable. */
export const parseBoundedJson = (text: string, maxDepth = MAX_JSON_DEPTH): JsonParse => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (e) {
    return { ok: false, message: `request body is not valid JSON: ${e instanceof Error ? e.message.slice(0, 200) : "syntax error"}` }
  }
  const fix = text.includes("\\u") && SUSPECT_ESCAPE.test(text)
  if (typeof value === "string") return { ok: true, value: fix ? storableString(value) : value }
  if (isContainer(value) && !walk(value, maxDepth, fix)) {
    return { ok: false, message: `request body nests arrays and objects more than ${maxDepth} levels deep` }
  }
  return { ok: true, value }
}
