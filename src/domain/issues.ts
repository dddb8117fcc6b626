import { ParseResult } from "effect"
import type { SchemaAST } from "effect"
import type { ParseIssue } from "effect/ParseResult"

// Error messages a client sees quote what it sent only as a short excerpt: a message must not carry a
// megabyte (or a 2,000-level nesting) back, nor cost more to build than the request did.

/** Characters of a client's value quoted in an error message. */
export const EXCERPT_CHARS = 64
const MAX_MESSAGE_CHARS = 300
const MAX_PATH_CHARS = 200

const clip = (s: string, max: number) => (s.length > max ? `${s.slice(0, max)}…` : s)

/**
 * A short, JSON-like preview of any value: strings cut at EXCERPT_CHARS, at most 3 levels and a few
 * entries per level, never more than about EXCERPT_CHARS characters in all.
 */
/** An identifier a client sent, as a message quotes it: whole when short, else its start and its length. */
export const idText = (id: string): string => (id.length <= EXCERPT_CHARS ? id : `${id.slice(0, EXCERPT_CHARS)}… (${id.length} characters)`)

export const excerpt = (value: unknown, max = EXCERPT_CHARS): string => {
  let out = ""
  const go = (v: unknown, depth: number): void => {
    if (out.length > max) return
    if (typeof v === "string") out += JSON.stringify(clip(v, max))
    else if (typeof v === "number" || typeof v === "boolean" || v === null || v === undefined) out += String(v)
    else if (typeof v === "bigint") out += `${v}n`
    else if (Array.isArray(v)) {
      if (depth >= 3) out += v.length === 0 ? "[]" : "[…]"
      else {
        out += "["
        for (let i = 0; i < v.length && out.length <= max; i++) {
          if (i > 0) out += ","
          go(v[i], depth + 1)
        }
        out += "]"
      }
    } else if (typeof v === "object") {
      const keys = Object.keys(v)
      if (depth >= 3) out += keys.length === 0 ? "{}" : "{…}"
      else {
        out += "{"
        for (let i = 0; i < keys.length && out.length <= max; i++) {
          const k = keys[i]!
          out += `${i > 0 ? "," : ""}${JSON.stringify(clip(k, max))}:`
          go((v as Record<string, unknown>)[k], depth + 1)
        }
        out += "}"
      }
    } else out += typeof v
  }
  go(value, 0)
  return clip(out, max)
}

// Effect's formatters print `actual` with a recursive, unbounded printer. Each `actual` is swapped for
// an object whose toString is its excerpt, which that printer (and message annotations) use as is.
const shown = (actual: unknown): unknown => {
  const text = excerpt(actual)
  return { toString: () => text }
}

/** Longer printed types than this are said by their kind (a list, an object). */
const SHORT_TYPE_CHARS = 40
const kindOf = (ast: SchemaAST.AST): string | undefined => (ast._tag === "TupleType" ? "a list" : ast._tag === "TypeLiteral" ? "an object" : undefined)

const withExcerpts = (issue: ParseIssue): ParseIssue => {
  switch (issue._tag) {
    case "Type": {
      // A list or an object that is not one: Effect's message spells the whole expected type out
      // ("Expected ReadonlyArray<{ readonly name: string; readonly value: number; … }>"), which buries
      // what a person needs to read. A named type keeps its name ("Expected Sketch").
      const kind = issue.message === undefined && String(issue.ast).length > SHORT_TYPE_CHARS ? kindOf(issue.ast) : undefined
      const message = kind !== undefined ? `Expected ${kind}, actual ${excerpt(issue.actual)}` : issue.message === undefined ? undefined : clip(issue.message, MAX_MESSAGE_CHARS)
      return new ParseResult.Type(issue.ast, shown(issue.actual), message)
    }
    case "Missing":
      return issue
    case "Unexpected":
      return new ParseResult.Unexpected(shown(issue.actual), issue.message)
    case "Forbidden":
      return new ParseResult.Forbidden(issue.ast, shown(issue.actual), issue.message)
    case "Pointer":
      return new ParseResult.Pointer(issue.path, shown(issue.actual), withExcerpts(issue.issue))
    case "Refinement":
      return new ParseResult.Refinement(issue.ast, shown(issue.actual), issue.kind, withExcerpts(issue.issue))
    case "Transformation":
      return new ParseResult.Transformation(issue.ast, shown(issue.actual), issue.kind, withExcerpts(issue.issue))
    case "Composite":
      return new ParseResult.Composite(
        issue.ast, shown(issue.actual),
        Array.isArray(issue.issues) ? issue.issues.map(withExcerpts) as [ParseIssue, ...Array<ParseIssue>] : withExcerpts(issue.issues as ParseIssue)
      )
  }
}

export interface Issue {
  readonly path: string
  readonly message: string
}

/**
 * Every issue of a failed decode, each with its path; values appear only as short excerpts. An optional
 * field's "Expected undefined" alternative is left out beside the issues that say what was wrong in it.
 */
export const formatParseError = (error: ParseResult.ParseError, maxIssues = 50): Array<Issue> => {
  const all = ParseResult.ArrayFormatter.formatErrorSync(new ParseResult.ParseError({ issue: withExcerpts(error.issue) }))
    .map((i) => ({ path: clip(i.path.map(String).join("."), MAX_PATH_CHARS), message: clip(i.message, MAX_MESSAGE_CHARS) }))
  const isUndefinedAlternative = (i: Issue) => i.message.startsWith("Expected undefined,")
  const others = all.filter((i) => !isUndefinedAlternative(i))
  const explained = (path: string) => others.some((o) => o.path === path || path === "" || o.path.startsWith(`${path}.`))
  return all.filter((i) => !(isUndefinedAlternative(i) && explained(i.path))).slice(0, maxIssues)
}

/** `path: message; …` for one line of text. */
export const describeIssues = (issues: ReadonlyArray<Issue>): string =>
  issues.map((i) => (i.path === "" ? i.message : `${i.path}: ${i.message}`)).join("; ")
