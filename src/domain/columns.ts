// Shared by the ingest jobs that travel as columns (metricColumns.ts, spanColumns.ts).

/** Every index of `idx` (one per row, `n` rows) points inside a table of `length` entries. */
export const inRange = (idx: ReadonlyArray<number>, n: number, length: number): boolean => {
  if (idx.length !== n) return false
  for (let i = 0; i < n; i++) {
    const k = idx[i] as number
    if (!(k >= 0 && k < length && Number.isInteger(k))) return false
  }
  return true
}

/** Index of each distinct key in `table`, by a map. */
export const interner = <K, V>(table: Array<V>) => {
  const seen = new Map<K, number>()
  return (key: K, value: V): number => {
    let i = seen.get(key)
    if (i === undefined) {
      i = table.length
      table.push(value)
      seen.set(key, i)
    }
    return i
  }
}
