import { Option, SchemaAST } from "effect"
import type { Schema } from "effect"

// A fast path for decoding the jobs between stages. Schema's decoder copies every object and checks
// every field through its general machinery: ~1 µs per metric point of an ingest job, most of it
// allocation (measured, scratch micro-benchmark in the note of this change). Stage jobs are plain
// JSON written by the service itself, so nearly all of them are valid as they stand: this compiles
// the schema's AST, where it is made only of plain parts (strings, numbers, booleans, literals,
// structs, records, arrays, refinements of these, unions of tagged structs or of distinct kinds),
// into a predicate, and a job that passes it is
// used as parsed. Anything the predicate cannot vouch for (a refinement, a transformation, an excess
// key, a wrong type) goes through the schema's own decoder, which explains failures as before.
// Promise, checked by tests/domain/fastDecode.test.ts on generated values: when the fast path
// accepts, the schema accepts and decodes to an equal value.

type Check = (u: unknown) => boolean

const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u) && Object.getPrototypeOf(u) === Object.prototype

const structCheck = (ast: SchemaAST.TypeLiteral): Check | undefined => {
  const props: Array<{ readonly name: string; readonly optional: boolean; readonly check: Check }> = []
  for (const p of ast.propertySignatures) {
    if (typeof p.name !== "string") return undefined
    const check = compile(p.type)
    if (check === undefined) return undefined
    props.push({ name: p.name, optional: p.isOptional, check })
  }
  const names = new Set(props.map((p) => p.name))
  return (u) => {
    if (!isPlainObject(u)) return false
    for (const k in u) if (!names.has(k) || !Object.hasOwn(u, k)) return false
    for (const p of props) {
      if (!Object.hasOwn(u, p.name)) {
        if (!p.optional) return false
      } else if (!p.check(u[p.name])) return false
    }
    return true
  }
}

const recordCheck = (ast: SchemaAST.TypeLiteral): Check | undefined => {
  const [index] = ast.indexSignatures
  if (ast.indexSignatures.length !== 1 || index === undefined || kindsOf(index.parameter)?.join() !== "StringKeyword") return undefined
  const value = compile(index.type)
  // A refined key: the schema's decoder drops the keys it does not match; the fast path says no to them.
  const key = index.parameter._tag === "StringKeyword" ? undefined : compile(index.parameter)
  if (value === undefined || (index.parameter._tag !== "StringKeyword" && key === undefined)) return undefined
  return (u) => {
    if (!isPlainObject(u)) return false
    for (const k in u) if (!Object.hasOwn(u, k) || k === "__proto__" || (key !== undefined && !key(k)) || !value(u[k])) return false
    return true
  }
}

/** The `_tag` literal of a struct (or of a refined struct: the refinement still has to pass), if it has one. */
const tagOf = (ast: SchemaAST.AST): string | undefined => {
  while (ast._tag === "Refinement") ast = ast.from
  if (ast._tag !== "TypeLiteral") return undefined
  const tag = ast.propertySignatures.find((p) => p.name === "_tag")
  return tag !== undefined && tag.type._tag === "Literal" && typeof tag.type.literal === "string" && !tag.isOptional ? tag.type.literal : undefined
}

const unionCheck = (ast: SchemaAST.Union): Check | undefined => {
  // Tagged structs: the member named by `_tag` decides (members the predicate cannot vouch for say no).
  const tags = ast.types.map(tagOf)
  if (tags.every((t) => t !== undefined) && new Set(tags).size === tags.length) {
    const byTag = new Map<string, Check>()
    ast.types.forEach((t, i) => {
      const check = compile(t)
      if (check !== undefined) byTag.set(tags[i] as string, check)
    })
    if (byTag.size === 0) return undefined
    return (u) => {
      if (!isPlainObject(u) || typeof u._tag !== "string") return false
      const check = byTag.get(u._tag)
      return check !== undefined && check(u)
    }
  }
  // Otherwise only unions of members that cannot both accept one value: literals, and keywords
  // (refined or not) of distinct kinds, such as a finite number or a string that parses as a time.
  const kinds = kindsOf(ast)
  const keywords = kinds?.filter((k) => k !== "Literal")
  if (keywords === undefined || keywords.includes("UnknownKeyword") || new Set(keywords).size !== keywords.length) return undefined
  const checks = ast.types.map(compile)
  if (checks.some((c) => c === undefined)) return undefined
  return (u) => checks.some((c) => c !== undefined && c(u))
}

/**
 * The kinds of value a member takes, under its refinements: `StringKeyword`, `Literal`, `object`
 * (structs and records), `array`; a nested union gives its members' kinds. Undefined for anything else.
 */
const kindsOf = (ast: SchemaAST.AST): Array<string> | undefined => {
  while (ast._tag === "Refinement") ast = ast.from
  if (ast._tag === "Union") {
    const all: Array<string> = []
    for (const t of ast.types) {
      const k = kindsOf(t)
      if (k === undefined) return undefined
      all.push(...k)
    }
    return all
  }
  if (ast._tag === "TypeLiteral") return ["object"]
  if (ast._tag === "TupleType") return ["array"]
  return ast._tag === "Literal" || ast._tag.endsWith("Keyword") ? [ast._tag] : undefined
}

const NO_OPTIONS: SchemaAST.ParseOptions = {}

const compile = (ast: SchemaAST.AST): Check | undefined => {
  switch (ast._tag) {
    case "StringKeyword": return (u) => typeof u === "string"
    case "NumberKeyword": return (u) => typeof u === "number"
    case "BooleanKeyword": return (u) => typeof u === "boolean"
    case "UnknownKeyword": return () => true
    case "UndefinedKeyword": return (u) => u === undefined
    case "Literal": {
      const literal = ast.literal
      return (u) => u === literal
    }
    case "TupleType": {
      const [rest] = ast.rest
      if (ast.elements.length !== 0 || ast.rest.length !== 1 || rest === undefined) return undefined
      const item = compile(rest.type)
      if (item === undefined) return undefined
      return (u) => {
        if (!Array.isArray(u)) return false
        for (let i = 0; i < u.length; i++) if (!item(u[i])) return false
        return true
      }
    }
    case "TypeLiteral":
      if (ast.indexSignatures.length === 0) return structCheck(ast)
      return ast.propertySignatures.length === 0 ? recordCheck(ast) : undefined
    case "Union": return unionCheck(ast)
    case "Refinement": {
      // The refinement's own filter, as the schema's decoder runs it once the value's type is right.
      const from = compile(ast.from)
      if (from === undefined) return undefined
      return (u) => from(u) && Option.isNone(ast.filter(u, NO_OPTIONS, ast))
    }
    default: return undefined
  }
}

type Decoder = (u: unknown) => unknown
const decoders = new WeakMap<SchemaAST.AST, Decoder | null>()

/**
 * The schema's fast path: a function that returns the value as it stands when the compiled
 * predicate vouches for it, or undefined (decode with the schema then). Undefined for a schema with
 * nothing the predicate can vouch for. Compiled once per schema (a request body's decode asks per
 * request: it gets the same function back).
 */
export const fastDecoder = <A, I, R>(schema: Schema.Schema<A, I, R>): ((u: unknown) => A | undefined) | undefined => {
  let decoder = decoders.get(schema.ast)
  if (decoder === undefined) {
    const check = compile(schema.ast)
    decoder = check === undefined ? null : (u) => (check(u) ? u : undefined)
    decoders.set(schema.ast, decoder)
  }
  return decoder === null ? undefined : (decoder as (u: unknown) => A | undefined)
}
