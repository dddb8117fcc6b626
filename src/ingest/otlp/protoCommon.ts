import { MAX_ATTRIBUTE_DEPTH } from "../../domain/limits.ts"
import type { AnyValue, InstrumentationScope, KeyValue, Resource } from "./types.ts"
import { emptyResource, emptyScope } from "./types.ts"
import type { ProtoReader } from "./wire.ts"

// Tags below are (field number << 3) | wire type, as they appear on the wire.
const EMPTY: AnyValue = Object.freeze({})

export const decodeAnyValue = (r: ProtoReader, end: number, depth: number): AnyValue => {
  if (depth > MAX_ATTRIBUTE_DEPTH) r.fail(`AnyValue nested more than ${MAX_ATTRIBUTE_DEPTH} levels deep`)
  let v = EMPTY
  while (r.pos < end) {
    const tag = r.uint32()
    switch (tag) {
      case 10: v = { stringValue: r.string() }; break
      case 16: v = { boolValue: r.bool() }; break
      case 24: v = { intValue: r.int64() }; break
      case 33: v = { doubleValue: r.double() }; break
      case 42: v = { arrayValue: { values: decodeArrayValue(r, r.end(), depth + 1) } }; break
      case 50: v = { kvlistValue: { values: decodeKeyValueList(r, r.end(), depth + 1) } }; break
      case 58: v = { bytesValue: r.base64() }; break
      default: r.skip(tag)
    }
  }
  r.checkEnd(end)
  return v
}

const decodeArrayValue = (r: ProtoReader, end: number, depth: number): Array<AnyValue> => {
  const values: Array<AnyValue> = []
  while (r.pos < end) {
    const tag = r.uint32()
    if (tag === 10) values.push(decodeAnyValue(r, r.end(), depth))
    else r.skip(tag)
  }
  r.checkEnd(end)
  return values
}

const decodeKeyValueList = (r: ProtoReader, end: number, depth: number): Array<KeyValue> => {
  const values: Array<KeyValue> = []
  while (r.pos < end) {
    const tag = r.uint32()
    if (tag === 10) values.push(decodeKeyValue(r, r.end(), depth))
    else r.skip(tag)
  }
  r.checkEnd(end)
  return values
}

export const decodeKeyValue = (r: ProtoReader, end: number, depth = 0): KeyValue => {
  let key = ""
  let value = EMPTY
  while (r.pos < end) {
    const tag = r.uint32()
    if (tag === 10) key = r.string()
    else if (tag === 18) value = decodeAnyValue(r, r.end(), depth)
    else r.skip(tag)
  }
  r.checkEnd(end)
  return { key, value }
}

export const decodeResource = (r: ProtoReader, end: number): Resource => {
  const resource = emptyResource()
  while (r.pos < end) {
    const tag = r.uint32()
    if (tag === 10) resource.attributes.push(decodeKeyValue(r, r.end()))
    else if (tag === 16) resource.droppedAttributesCount = r.uint32()
    else r.skip(tag)
  }
  r.checkEnd(end)
  return resource
}

export const decodeScope = (r: ProtoReader, end: number): InstrumentationScope => {
  const scope = emptyScope()
  while (r.pos < end) {
    const tag = r.uint32()
    switch (tag) {
      case 10: scope.name = r.string(); break
      case 18: scope.version = r.string(); break
      case 26: scope.attributes.push(decodeKeyValue(r, r.end())); break
      case 32: scope.droppedAttributesCount = r.uint32(); break
      default: r.skip(tag)
    }
  }
  r.checkEnd(end)
  return scope
}
