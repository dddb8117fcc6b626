// Performance marks the browser benchmark reads (bench/browser.ts): `<name>:start` when a view gets its
// data, `<name>:done` once the frame showing it has been painted, and a `<name>` measure between.

const pending = new Set<string>()

export const markStart = (name: string) => {
  performance.mark(`${name}:start`)
  pending.add(name)
}

/** Call after the DOM holds the view: marks done after the next paint (rAF, then a task). */
export const markPainted = (name: string) => {
  if (!pending.has(name)) return
  pending.delete(name)
  requestAnimationFrame(() =>
    setTimeout(() => {
      performance.mark(`${name}:done`)
      performance.measure(name, `${name}:start`, `${name}:done`)
    }, 0)
  )
}
