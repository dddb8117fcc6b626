import { MAX_ATTRIBUTE_ELEMENTS, MAX_ATTRIBUTE_KEY_LENGTH, MAX_ATTRIBUTE_VALUE_LENGTH, MAX_ATTRIBUTES, MAX_NAME_LENGTH } from "../../domain/limits.ts"
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

const valueProblem = (v: AnyValue): string | undefined => {
  const s = v.stringValue ?? v.bytesValue
  if (s !== undefined) return s.length > MAX_ATTRIBUTE_VALUE_LENGTH ? `is ${s.length} characters long (at most ${MAX_ATTRIBUTE_VALUE_LENGTH})` : undefined
  const items = v.arrayValue?.values ?? v.kvlistValue?.values
  if (items === undefined) return undefined
  if (items.length > MAX_ATTRIBUTE_ELEMENTS) return `holds ${items.length} elements (at most ${MAX_ATTRIBUTE_ELEMENTS})`
  // Nesting is bounded by the decoders (MAX_ATTRIBUTE_DEPTH), so this recursion is too.
  if (v.kvlistValue !== undefined) return attributesProblem(v.kvlistValue.values, "its key-value list")
  for (const item of items as ReadonlyArray<AnyValue>) {
    const p = valueProblem(item)
    if (p !== undefined) return `has an element that ${p}`
  }
  return undefined
}

/** Why an attribute set cannot be stored (too many, a key or value too long), or undefined when it can. */
export const attributesProblem = (kvs: ReadonlyArray<KeyValue>, what: string): string | undefined => {
  if (kvs.length > MAX_ATTRIBUTES) return `${what} has ${kvs.length} attributes (at most ${MAX_ATTRIBUTES})`
  for (let i = 0; i < kvs.length; i++) {
    const kv = kvs[i]!
    if (kv.key.length > MAX_ATTRIBUTE_KEY_LENGTH) return `${what} has an attribute key of ${kv.key.length} characters (at most ${MAX_ATTRIBUTE_KEY_LENGTH})`
    const v = kv.value
    if (v.stringValue !== undefined) {
      if (v.stringValue.length > MAX_ATTRIBUTE_VALUE_LENGTH) return `${what}: attribute ${JSON.stringify(kv.key.slice(0, 64))} is ${v.stringValue.length} characters long (at most ${MAX_ATTRIBUTE_VALUE_LENGTH})`
    } else if (v.arrayValue !== undefined || v.kvlistValue !== undefined || v.bytesValue !== undefined) {
      const p = valueProblem(v)
      if (p !== undefined) return `${what}: attribute ${JSON.stringify(kv.key.slice(0, 64))} ${p}`
    }
  }
  return undefined
}

export const serviceNameOf = (resourceAttributes: Record<string, unknown>): string => {
  const name = resourceAttributes["service.name"]
  return typeof name === "string" && name !== "" ? name : "unknown_service"
}

/** Why a resource's spans or points cannot be stored, or undefined. */
export const resourceProblem = (kvs: ReadonlyArray<KeyValue>, serviceName: string): string | undefined =>
  serviceName.length > MAX_NAME_LENGTH
    ? `service.name is ${serviceName.length} characters long (at most ${MAX_NAME_LENGTH})`
    : attributesProblem(kvs, "the resource")
