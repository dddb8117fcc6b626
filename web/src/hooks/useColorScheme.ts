import { useSyncExternalStore } from "react"

const query = () => window.matchMedia("(prefers-color-scheme: dark)")

/** "dark" or "light", following the system setting as it changes (canvas charts redraw with it). */
export const useColorScheme = (): "dark" | "light" =>
  useSyncExternalStore(
    (onChange) => {
      const q = query()
      q.addEventListener("change", onChange)
      return () => q.removeEventListener("change", onChange)
    },
    () => (query().matches ? "dark" : "light")
  )

/** A CSS custom property's value (canvas drawing cannot use var()). */
export const cssVar = (name: string): string => getComputedStyle(document.documentElement).getPropertyValue(name).trim()
