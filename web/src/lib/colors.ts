// A service keeps its colour on every page: picked from its name, not from its position in a list.
// No red in the palette: red means error, and errors are marked by a symbol as well.

export const PALETTE = ["#3b78c2", "#e07b1a", "#3f9a4c", "#9a5fb5", "#2a9d9a", "#a0693f", "#c9568e", "#6f7f8f", "#7a8f1f", "#4f5fc4"] as const

/** FNV-1a: a cheap, stable hash of the name. */
const hash = (s: string) => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

export const serviceColor = (service: string): string => PALETTE[hash(service) % PALETTE.length]!
