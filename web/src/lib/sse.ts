/** SSE frames of `text` (complete ones), and the incomplete rest. */
export const parseFrames = (text: string): { readonly frames: ReadonlyArray<{ id?: string; event?: string; data?: string }>; readonly rest: string } => {
  const parts = text.split("\n\n")
  const rest = parts.pop() ?? ""
  const frames = parts.map((p) => {
    const f: { id?: string; event?: string; data?: string } = {}
    for (const line of p.split("\n")) {
      const at = line.indexOf(":")
      if (at <= 0) continue
      const name = line.slice(0, at)
      const value = line.slice(at + 1).replace(/^ /, "")
      if (name === "id" || name === "event") f[name] = value
      if (name === "data") f.data = f.data === undefined ? value : `${f.data}\n${value}`
    }
    return f
  })
  return { frames, rest }
}
