import { readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { describe, expect, it } from "vitest"

// The house's layering, checked on the source (value imports and re-exports; `import type` is erased
// and cannot make a circle at run time): src/domain imports no stage, src/query and src/alerting do
// not import each other, and no module imports itself through others.

const root = resolve(import.meta.dirname, "../..")
const files: Array<string> = []
const walk = (dir: string) => {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e)
    if (statSync(p).isDirectory()) walk(p)
    else if (/\.tsx?$/.test(e)) files.push(p)
  }
}
walk(join(root, "src"))
const rel = (f: string) => relative(root, f).split("\\").join("/")
const graph = new Map<string, Array<string>>()
for (const f of files) {
  const deps: Array<string> = []
  for (const m of readFileSync(f, "utf8").matchAll(/^\s*(?:import|export)\s+(type\s+)?[^'"]*?from\s+["'](\.[^"']+)["']/gm)) {
    if (m[1] === undefined) deps.push(rel(resolve(dirname(f), m[2]!)))
  }
  graph.set(rel(f), deps)
}
const folder = (f: string) => f.split("/")[1]

describe("the house's imports", () => {
  it("src/domain imports nothing outside src/domain", () => {
    const out = [...graph].flatMap(([f, ds]) => (folder(f) === "domain" ? ds.filter((d) => folder(d) !== "domain").map((d) => `${f} → ${d}`) : []))
    expect(out).toEqual([])
  })

  it("src/query and src/alerting do not import each other", () => {
    const out = [...graph].flatMap(([f, ds]) =>
      ds.filter((d) => (folder(f) === "query" && folder(d) === "alerting") || (folder(f) === "alerting" && folder(d) === "query")).map((d) => `${f} → ${d}`))
    expect(out).toEqual([])
  })

  it("has no import circles", () => {
    // Tarjan's strongly connected components: any with more than one module is a circle.
    let index = 0
    const stack: Array<string> = []
    const onStack = new Set<string>()
    const idx = new Map<string, number>()
    const low = new Map<string, number>()
    const circles: Array<Array<string>> = []
    const visit = (v: string) => {
      idx.set(v, index)
      low.set(v, index++)
      stack.push(v)
      onStack.add(v)
      for (const w of graph.get(v) ?? []) {
        if (!graph.has(w)) continue
        if (!idx.has(w)) {
          visit(w)
          low.set(v, Math.min(low.get(v)!, low.get(w)!))
        } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!))
      }
      if (low.get(v) === idx.get(v)) {
        const c: Array<string> = []
        let w: string
        do {
          w = stack.pop()!
          onStack.delete(w)
          c.push(w)
        } while (w !== v)
        if (c.length > 1) circles.push(c.sort())
      }
    }
    for (const v of graph.keys()) if (!idx.has(v)) visit(v)
    expect(circles).toEqual([])
    expect(graph.size).toBeGreaterThan(100) // the walk found the source
  })
})
