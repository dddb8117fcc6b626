import type { AnyValue, KeyValue } from "./types.ts"

/** AnyValue as plain JSON: bytes are base64, int64 beyond 2^53 a decimal string, NaN/±Infinity strings. */
export const anyValueToJson = (v: AnyValue): unknown => {
  if (v.stringValue !== undefined) return v.stringValue
  if (v.intValue !== undefined) return v.intValue
  if (v.boolValue !== undefined) return v.boolValue
  if (v.doubleValue !== undefined) return Number.isFinite(v.doubleValue) ? v.doubleValue : String(v.doubleValue)
  if (v.arrayValue !== undefined) return v.arrayValue.values.map(anyValueToJson)
  if (v.kvlistValue !== undefined) return attributesToRecord(v.kvlistValue.values)
  if (v.bytesValue !== undefined) return v.bytesValue
  return null
}

/** Later duplicates win, as in a map; "__proto__" is defined as an own key instead of setting the prototype. */
export const attributesToRecord = (kvs: ReadonlyArray<KeyValue>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (let i = 0; i < kvs.length; i++) {
    const kv = kvs[i]!
    if (kv.key === "__proto__") {
      Object.defineProperty(out, kv.key, { value: anyValueToJson(kv.value), enumerable: true, writable: true, configurable: true })
    } else {
      out[kv.key] = anyValueToJson(kv.value)
    }
  }
  return out
}

export const serviceNameOf = (resourceAttributes: Record<string, unknown>): string => {
  const name = resourceAttributes["service.name"]
  return typeof name === "string" && name !== "" ? name : "unknown_service"
}
