import { useCallback, useMemo } from "react"
import { useSearchParams } from "wouter"
import { rangeFromSearch } from "../lib/timeRange.ts"
import type { TimeRange } from "../lib/timeRange.ts"

// The URL is the console's state: filters, the selected span, the time range all live in the query
// string, so a view survives reload, back/forward and being pasted to a colleague.

export type ParamUpdate = Readonly<Record<string, string | ReadonlyArray<string> | null | undefined>>

/** Sets (or with null/"" removes) query parameters; a new history entry unless `replace`. */
export const useSetParams = () => {
  const [, setParams] = useSearchParams()
  return useCallback(
    (updates: ParamUpdate, options: { readonly replace?: boolean } = {}) =>
      setParams((prev) => {
        const next = new URLSearchParams(prev)
        for (const [k, v] of Object.entries(updates)) {
          next.delete(k)
          if (typeof v === "string" && v !== "") next.set(k, v)
          else if (Array.isArray(v)) for (const x of v) next.append(k, x)
        }
        return next
      }, { replace: options.replace ?? false }),
    [setParams]
  )
}

export const useParam = (name: string): string | null => {
  const [params] = useSearchParams()
  return params.get(name)
}

export const useTimeRange = () => {
  const [params] = useSearchParams()
  const setParams = useSetParams()
  const from = params.get("from")
  const to = params.get("to")
  const range = useMemo(() => rangeFromSearch(new URLSearchParams({ ...(from === null ? {} : { from }), ...(to === null ? {} : { to }) })), [from, to])
  const setRange = useCallback((r: TimeRange) => setParams({ from: r.from, to: r.to }), [setParams])
  return { range, setRange }
}

/** `href` with the current time range carried over, so moving between pages keeps the range. */
export const useHrefWithRange = () => {
  const [params] = useSearchParams()
  const from = params.get("from")
  const to = params.get("to")
  return useCallback(
    (href: string) => {
      const p = new URLSearchParams()
      if (from !== null) p.set("from", from)
      if (to !== null) p.set("to", to)
      const s = p.toString()
      return s === "" ? href : `${href}${href.includes("?") ? "&" : "?"}${s}`
    },
    [from, to]
  )
}
