import { readFileSync } from "node:fs"

// What fills a V8 heap snapshot: self size and count per (node type, constructor name), and the
// difference between two snapshots, to say which objects an added workload keeps alive.

interface Snapshot {
  readonly snapshot: { readonly meta: { readonly node_fields: ReadonlyArray<string>; readonly node_types: ReadonlyArray<ReadonlyArray<string> | string> } }
  readonly nodes: ReadonlyArray<number>
  readonly strings: ReadonlyArray<string>
}

export interface HeapGroup {
  readonly name: string
  readonly count: number
  readonly bytes: number
}

export const heapGroups = (file: string): Map<string, { count: number; bytes: number }> => {
  const s = JSON.parse(readFileSync(file, "utf8")) as Snapshot
  const fields = s.snapshot.meta.node_fields
  const types = s.snapshot.meta.node_types[0] as ReadonlyArray<string>
  const width = fields.length
  const iType = fields.indexOf("type")
  const iName = fields.indexOf("name")
  const iSize = fields.indexOf("self_size")
  const out = new Map<string, { count: number; bytes: number }>()
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + iType]!] ?? "?"
    const raw = type === "string" || type === "concatenated string" || type === "sliced string" ? "(strings)" : s.strings[s.nodes[i + iName]!] ?? "?"
    const name = `${type}: ${raw.length > 60 ? `${raw.slice(0, 60)}…` : raw}`
    const g = out.get(name) ?? { count: 0, bytes: 0 }
    g.count++
    g.bytes += s.nodes[i + iSize]!
    out.set(name, g)
  }
  return out
}

/** The groups that grew most from `before` to `after`. */
export const heapDiff = (before: string, after: string, n = 15): Array<HeapGroup> => {
  const a = heapGroups(before)
  const b = heapGroups(after)
  return [...b.entries()]
    .map(([name, g]) => ({ name, count: g.count - (a.get(name)?.count ?? 0), bytes: g.bytes - (a.get(name)?.bytes ?? 0) }))
    .sort((x, y) => y.bytes - x.bytes)
    .slice(0, n)
}
